"""Test settings: the project's, plus the test jobs. The database is a testcontainers
PostgreSQL, wired in by ``django_db_modify_db_settings`` in conftest.py."""

import os

# Never SQLite: until the fixture points it at the container, the database is unreachable.
os.environ.setdefault("DATABASE_URL", "postgres://unset@unset.invalid/unset")
os.environ.setdefault("DJANGO_EXTRA_JOB_APPS", "tests.testjobs")

from app.settings import *  # noqa: F403

SECRET_KEY = "tests-only-not-a-secret"
JOB_DB_WAIT_SECONDS = 5.0
