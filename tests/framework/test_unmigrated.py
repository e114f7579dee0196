"""A database without the framework's tables, or one a job may not write to: exit 78 with one
line saying what to do, in-process and through ``job`` and ``manage.py``, on PostgreSQL and
SQLite; never a traceback."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from batch_jobs.framework import connection as control_connection
from batch_jobs.models import JobRun
from batch_jobs.testing import run_job
from tests.support.docker import create_database
from tests.support.sessions import Session

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MIGRATE = "apply the migrations: `python manage.py migrate` (or `job migrate`)"


def refused(*args):
    result = run_job(*args)
    assert result.exit_code == 78, result.stderr
    assert isinstance(result.exception, CommandError)
    message = str(result.exception)
    assert "\n" not in message
    return message


@pytest.mark.postgresql
@pytest.mark.django_db
def test_postgresql_without_the_tables():
    with connection.cursor() as cursor:  # rolled back with the test
        cursor.execute("ALTER TABLE batch_jobs_run RENAME TO batch_jobs_run_elsewhere")
    message = refused("echo_args", "x")
    assert message == (
        'cannot write the run record (relation "batch_jobs_run" does not exist); ' + MIGRATE
    )


@pytest.mark.postgresql
@pytest.mark.django_db
def test_postgresql_in_a_read_only_transaction():
    with connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION READ ONLY")  # as on a hot standby
    message = refused("echo_args", "x")
    assert message.startswith(
        "cannot write the run record (cannot execute INSERT in a read-only transaction); "
        "the database is read-only here"
    )
    assert "manage.py migrate" in message


@pytest.mark.postgresql
@pytest.mark.django_db
def test_postgresql_without_the_privilege():
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE job_reader")
        cursor.execute("GRANT USAGE ON SCHEMA public TO job_reader")
        cursor.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO job_reader")
        cursor.execute("SET LOCAL ROLE job_reader")
    message = refused("echo_args", "x")
    assert message.startswith("cannot write the run record (permission denied for table")
    assert "grant this database user SELECT, INSERT and UPDATE on the batch_jobs_*" in message


@pytest.fixture
def sqlite_control(monkeypatch, tmp_path):
    """A SQLite database as the control connection, so that the run record goes to SQLite in
    this process; yields the file, empty."""
    path = tmp_path / "control.sqlite3"
    sqlite3.connect(path).close()
    # Made here rather than in DATABASES, as the framework makes its own control connection,
    # so that the test runner neither creates nor guards a test database for it.
    connections["sqlite_control"] = sqlite_wrapper(str(path))
    monkeypatch.setattr(control_connection, "control_alias", lambda: "sqlite_control")
    yield path
    connections["sqlite_control"].close()
    del connections["sqlite_control"]


def sqlite_wrapper(name):
    from django.db.backends.sqlite3.base import DatabaseWrapper

    config = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": name}}
    return DatabaseWrapper(connections.configure_settings(config)["default"], "sqlite_control")


@pytest.mark.django_db(transaction=True)
def test_sqlite_without_the_tables(sqlite_control):
    message = refused("echo_args", "x")
    assert message == "cannot write the run record (no such table: batch_jobs_run); " + MIGRATE
    assert not JobRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_sqlite_read_only(sqlite_control):
    call_command("migrate", "batch_jobs", database="sqlite_control", verbosity=0)
    connections["sqlite_control"].close()
    connections["sqlite_control"] = sqlite_wrapper(f"file:{sqlite_control}?mode=ro")
    message = refused("echo_args", "x")
    assert message.startswith(
        "cannot write the run record (attempt to write a readonly database); "
        "the database is read-only here"
    )


# -- through the console scripts ---------------------------------------------------------


def run(script, *args, **env):
    """``job ARGS``, ``jobctl ARGS`` or ``python manage.py ARGS`` in a process of its own,
    from the project's directory."""
    words = [BIN / script] if script in ("job", "jobctl") else [BIN / "python", ROOT / "manage.py"]
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **env}
    return subprocess.run(
        [*words, *args], capture_output=True, text=True, env=environment, cwd=ROOT
    )


def assert_one_line_78(result, message):
    assert result.returncode == 78, result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"CommandError: {message}"), result.stderr
    assert "Traceback" not in result.stderr


def new_database(request, name):
    """The URL of a new, empty database on the test server: the session's container, or
    TEST_DATABASE_URL's server in the Django lanes (which have no Docker)."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        name = f"{name}_{urlsplit(url).path.lstrip('/')}"  # the lanes share the server
        with Session(connection.Database.connect(url)) as server:  # the lane's driver
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            server.execute(f'CREATE DATABASE "{name}"')
        return urlsplit(url)._replace(path=f"/{name}").geturl()
    return create_database(request.getfixturevalue("postgres"), name)[1]


@pytest.fixture(scope="module")
def empty_postgres(request):
    """A database on the test server that has never been migrated."""
    return new_database(request, "unmigrated")


@pytest.mark.postgresql
@pytest.mark.parametrize("script", ["job", "manage.py"])
def test_a_process_against_postgresql_without_the_tables(script, empty_postgres):
    result = run(script, "echo_args", "x", DATABASE_URL=empty_postgres, JOB_LOG_FORMAT="json")
    assert_one_line_78(
        result, 'cannot write the run record (relation "batch_jobs_run" does not exist); '
    )
    assert MIGRATE in result.stderr


@pytest.mark.postgresql
@pytest.mark.parametrize("script", ["job", "manage.py"])
def test_a_process_against_a_read_only_postgresql(script, request):
    url = new_database(request, "read_only_jobs")
    assert run("job", "migrate", "--noinput", DATABASE_URL=url).returncode == 0
    result = run(
        script,
        "echo_args",
        "x",
        DATABASE_URL=url,
        PGOPTIONS="-c default_transaction_read_only=on",  # libpq's: every session read-only
    )
    assert_one_line_78(result, "cannot write the run record (cannot execute INSERT in a read-only")


@pytest.mark.parametrize("script", ["job", "manage.py"])
def test_a_process_against_sqlite_without_the_tables(script, tmp_path):
    url = f"sqlite:///{tmp_path}/db.sqlite3"
    result = run(script, "echo_args", "x", DATABASE_URL=url)
    assert_one_line_78(result, "cannot write the run record (no such table: batch_jobs_run); ")


def test_a_process_against_a_read_only_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path}/db.sqlite3"
    assert run("job", "migrate", "--noinput", DATABASE_URL=url).returncode == 0
    settings = tmp_path / "read_only_settings.py"
    settings.write_text(
        "from tests.settings import *  # noqa: F403\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',\n"
        f"    'NAME': 'file:{tmp_path}/db.sqlite3?mode=ro'}}}}\n"
    )
    for script in ("job", "manage.py"):
        result = run(
            script,
            "echo_args",
            "x",
            DJANGO_SETTINGS_MODULE="read_only_settings",
            PYTHONPATH=f"{tmp_path}:{ROOT}",
        )
        assert_one_line_78(
            result, "cannot write the run record (attempt to write a readonly database); "
        )


# -- the job's own tables, and a project without the framework ------------------------------


def test_a_job_whose_own_table_is_missing_exits_78_naming_migrate(tmp_path):
    """A missing table is a deployment step not taken, not a bug to retry: the job's own
    tables get the same one line as the run records'."""
    url = f"sqlite:///{tmp_path}/db.sqlite3"
    assert run("job", "migrate", "batch_jobs", "--noinput", DATABASE_URL=url).returncode == 0
    result = run("job", "upper_items", DATABASE_URL=url)
    assert_one_line_78(result, "database error: no such table: testjobs_item; ")
    assert MIGRATE in result.stderr


@pytest.mark.postgresql
@pytest.mark.django_db
def test_in_process_the_missing_table_error_stands_and_the_record_says_78():
    from django.db import ProgrammingError

    with connection.cursor() as cursor:  # rolled back with the test
        cursor.execute("ALTER TABLE testjobs_item RENAME TO testjobs_item_elsewhere")
    with pytest.raises(ProgrammingError):
        call_command("upper_items")
    run_record = JobRun.objects.get(job="upper_items")
    assert (run_record.status, run_record.exit_code) == ("failed", 78)
    assert run_record.error.startswith('database error: relation "testjobs_item" does not exist')


def test_a_project_without_batch_jobs_installed_is_told_to_add_it(tmp_path):
    (tmp_path / "without_batch_jobs.py").write_text(
        "from tests.settings import *  # noqa: F403\n"
        "INSTALLED_APPS = [a for a in INSTALLED_APPS if a != 'batch_jobs']  # noqa: F405\n"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "without_batch_jobs",
        "PYTHONPATH": f"{tmp_path}:{ROOT}",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
    }
    result = run("job", "echo_args", "x", **env)
    assert result.returncode == 78, result.stderr
    assert result.stderr.splitlines() == [
        "job: error: configuration error: django-batch-jobs is not installed in this project: "
        'add "batch_jobs" to INSTALLED_APPS, then run `python manage.py migrate`'
    ]
    # Every entry point, the listing and jobctl's commands too: 78 and that one line.
    for command in (["job", "--list"], ["jobctl", "list"], ["jobctl", "history"]):
        result = run(*command, **env)
        assert result.returncode == 78, (command, result.stderr)
        (line,) = result.stderr.splitlines()
        assert 'add "batch_jobs" to INSTALLED_APPS' in line, line
