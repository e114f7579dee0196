"""Test harness: one PostgreSQL 17 container for the session, on a docker network that the
image tests' containers join (they reach it as ``db``; the host reaches it on 127.0.0.1).

With ``TEST_DATABASE_URL`` set (the Django-version and driver lanes, which run in containers
of their own, set it), the in-process tests use that database instead and start no container:
``postgres://USER:PASSWORD@HOST:PORT/NAME``, ``mysql://USER:PASSWORD@HOST:PORT/NAME`` (the
MariaDB lane) or ``sqlite:////path/to/file.sqlite3`` (the SQLite lane). Markers say which
tests need which database: ``server`` a database server (PostgreSQL or MariaDB: skipped on
SQLite), ``postgresql`` PostgreSQL itself (skipped on SQLite and MariaDB), ``mysql`` MariaDB
(run on the MariaDB lane only). Nothing here imports a database driver: the lanes have
psycopg 3, psycopg 2, mysqlclient or none."""

import os
import platform
import urllib.parse

import django
import pytest
from testcontainers.community.postgres import PostgresContainer
from testcontainers.core.network import Network

from tests.support.docker import JobImage, build_image, create_database
from tests.support.reliability import Report

PG_IMAGE = os.environ.get("PG_IMAGE", "postgres:17")
PG_USER, PG_PASSWORD, PG_DB = "jobs", "test-password", "jobs"


@pytest.fixture(scope="session")
def docker_network():
    with Network() as network:
        yield network


@pytest.fixture(scope="session")
def postgres(docker_network):
    container = (
        PostgresContainer(
            PG_IMAGE, username=PG_USER, password=PG_PASSWORD, dbname=PG_DB, driver=None
        )
        .with_network(docker_network)
        .with_network_aliases("db")
    )
    with container:
        yield container


TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_SQLITE = TEST_DATABASE_URL.startswith("sqlite:")
ON_MARIADB = TEST_DATABASE_URL.startswith("mysql:")


def skipped_markers():
    """Marker -> why its tests are skipped on this run's database."""
    if ON_SQLITE:
        return {
            "server": "needs a database server (the SQLite lane)",
            "postgresql": "needs PostgreSQL (the SQLite lane)",
            "mysql": "needs MariaDB (the MariaDB lane)",
        }
    if ON_MARIADB:
        return {"postgresql": "needs PostgreSQL (the MariaDB lane)"}
    return {"mysql": "needs MariaDB (the MariaDB lane)"}


def pytest_collection_modifyitems(config, items):
    skipped = skipped_markers()
    for item in items:
        for marker, reason in skipped.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))
                break


def server_from_url(url):
    """``postgres://USER:PASSWORD@HOST:PORT/NAME`` as libpq's keywords."""
    parts = urllib.parse.urlsplit(url)
    return {
        "dbname": urllib.parse.unquote(parts.path.lstrip("/")),
        "user": urllib.parse.unquote(parts.username or ""),
        "password": urllib.parse.unquote(parts.password or ""),
        "host": parts.hostname or "",
        "port": str(parts.port or 5432),
    }


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request):
    """Point every alias at the database before pytest-django creates the test database."""
    from django.conf import settings

    if ON_SQLITE:
        # A file, not Django's in-memory test database: the tests' subprocesses open it too.
        path = TEST_DATABASE_URL.split("://", 1)[1][1:]
        for alias, database in settings.DATABASES.items():
            database.update(ENGINE="django.db.backends.sqlite3", NAME=path, OPTIONS={})
            for name in ("USER", "PASSWORD", "HOST", "PORT"):
                database[name] = ""
            if alias == "default":
                database.setdefault("TEST", {})["NAME"] = path
        return
    if ON_MARIADB:
        server = server_from_url(TEST_DATABASE_URL)
        for alias, database in settings.DATABASES.items():
            database.update(
                ENGINE="django.db.backends.mysql",
                NAME=server["dbname"],
                USER=server["user"],
                PASSWORD=server["password"],
                HOST=server["host"],
                PORT=str(urllib.parse.urlsplit(TEST_DATABASE_URL).port or 3306),
                # Four bytes per character, as every text a job may write needs.
                OPTIONS={"charset": "utf8mb4"},
            )
            if alias == "default":
                # Case-sensitive comparisons, as on PostgreSQL, which the tests' assertions
                # (name="AGAIN" is not "again") take for granted.
                database.setdefault("TEST", {}).update(CHARSET="utf8mb4", COLLATION="utf8mb4_bin")
        return
    if TEST_DATABASE_URL:
        server = server_from_url(TEST_DATABASE_URL)
    else:
        postgres = request.getfixturevalue("postgres")
        server = {
            "dbname": PG_DB,
            "user": PG_USER,
            "password": PG_PASSWORD,
            "host": postgres.get_container_host_ip(),
            "port": str(postgres.get_exposed_port(5432)),
        }
    for alias in settings.DATABASES:
        settings.DATABASES[alias].update(
            ENGINE="django.db.backends.postgresql",
            NAME=server["dbname"],
            USER=server["user"],
            PASSWORD=server["password"],
            HOST=server["host"],
            PORT=server["port"],
        )


# -- the image, for black-box tests ---------------------------------------------------------


@pytest.fixture(scope="session")
def image():
    return build_image().id


@pytest.fixture(scope="session")
def image_database(postgres):
    """A database of the image tests' own, migrated by the image itself."""
    return create_database(postgres, "image_tests")


@pytest.fixture(scope="session")
def job_image(image, docker_network, image_database):
    runner = JobImage(image, docker_network.name, image_database[0])
    result = runner.run("job", "migrate", "--noinput")  # the test jobs' table too
    assert result.exit_code == 0, result.stderr
    return runner


# -- the reliability report -----------------------------------------------------------------

_REPORT = Report()
_SUMMARY = []


@pytest.fixture(scope="session")
def report():
    """Where fault and bad-input tests record each case for `make reliability`'s table."""
    return _REPORT


@pytest.fixture(scope="session")
def summary():
    """Lines to print at the end of the run (the Django lanes' results)."""
    return _SUMMARY


def pytest_terminal_summary(terminalreporter):
    if _SUMMARY:
        host = f"Django {django.get_version()} on Python {platform.python_version()}"
        terminalreporter.write_line(f"This run: {host}")
    for line in _SUMMARY:
        terminalreporter.write_line(line)
    if _REPORT.cases:
        terminalreporter.write_line("")
        for line in _REPORT.table():
            terminalreporter.write_line(line)


def pytest_sessionfinish(session):
    if _REPORT.violations() and session.exitstatus == 0:
        session.exitstatus = 1
