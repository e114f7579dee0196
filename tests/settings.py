"""Test settings: the example project's, plus the test jobs. The database is a testcontainers
PostgreSQL, wired in by ``django_db_modify_db_settings`` in conftest.py, the SQLite lane's
file (``TEST_DATABASE_URL=sqlite:///...``) or the MariaDB lane's server (``mysql://...``)."""

import importlib.util
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

# django.tasks (Django 6) or its backport (django-tasks, on 5.2) with django-tasks-db's
# database backend, for JOB_TASKS_BACKEND's test (tests/ctl/test_tasks.py); where they are not
# installed (a lane's container), the test is skipped.
if importlib.util.find_spec("django_tasks_db") is not None:
    _backport = importlib.util.find_spec("django.tasks") is None
    INSTALLED_APPS += [*(["django_tasks"] if _backport else []), "django_tasks_db"]
    TASKS = {
        "default": {
            "BACKEND": ("django_tasks" if _backport else "django.tasks")
            + ".backends.immediate.ImmediateBackend"
        },
        "database": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    }
