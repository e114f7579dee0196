"""Test harness: one PostgreSQL 17 container for the session, on a docker network that the
image tests' containers join (they reach it as ``db``; the host reaches it on 127.0.0.1)."""

import os

import pytest
from testcontainers.community.postgres import PostgresContainer
from testcontainers.core.network import Network

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


@pytest.fixture(scope="session")
def django_db_modify_db_settings(postgres):
    """Point every alias at the container before pytest-django creates the test database."""
    from django.conf import settings

    for alias in ("default", "job_control"):
        settings.DATABASES[alias].update(
            ENGINE="django.db.backends.postgresql",
            NAME=PG_DB,
            USER=PG_USER,
            PASSWORD=PG_PASSWORD,
            HOST=postgres.get_container_host_ip(),
            PORT=str(postgres.get_exposed_port(5432)),
        )
