"""Test settings: the example project's, plus the test jobs. The database is a testcontainers
PostgreSQL, wired in by ``django_db_modify_db_settings`` in conftest.py, the SQLite lane's
file (``TEST_DATABASE_URL=sqlite:///...``) or the MariaDB lane's server (``mysql://...``)."""

import os

if os.environ.get("TEST_DATABASE_URL", "").startswith(("sqlite:", "mysql:")):
    # SQLite or MariaDB from the start: Django loads that backend, not PostgreSQL's.
    os.environ.setdefault("DATABASE_URL", os.environ["TEST_DATABASE_URL"])
else:
    # Never SQLite: until the fixture points it at the container, the database is unreachable.
    os.environ.setdefault("DATABASE_URL", "postgres://unset@unset.invalid/unset")
os.environ.setdefault("DJANGO_EXTRA_APPS", "tests.testjobs")

from app.settings import *  # noqa: F403

# A table that a backfill job fills, and (in tests/gated/gates) a migration gate that waits on it.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.gated"]  # noqa: F405

SECRET_KEY = "tests-only-not-a-secret"
# The admin's pages without a collectstatic first (the image collects them at build time, and
# serves them with WhiteNoise: tests/console/test_browser.py).
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise.")]  # noqa: F405
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
JOB_DB_WAIT_SECONDS = 5.0

# A second connection to the same test database, for the tests of a separate control
# connection (JOB_CONTROL_DATABASE = "job_control", as behind PgBouncer).
DATABASES["job_control"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
