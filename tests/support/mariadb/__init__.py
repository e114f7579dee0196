"""MariaDB servers in containers, from Debian's package (the Dockerfile beside this file): a
primary, and a replica following it (``MASTER_DELAY`` makes lag on demand, ``STOP REPLICA
SQL_THREAD`` a stopped replica). Nothing here imports a MySQL driver: the host has none, and
the tests that need one run in a container (tests/lanes) or query through ``query``."""

import contextlib
from pathlib import Path

from testcontainers.core.container import DockerContainer
from testcontainers.core.waiting_utils import wait_for_logs

from tests.support.docker import client

HERE = Path(__file__).resolve().parent
IMAGE = "django-jobs-test-mariadb:latest"
USER, PASSWORD, DATABASE = "jobs", "test-password", "jobs"


def build():
    """The test image (cached by Docker after the first build)."""
    image, _ = client().images.build(path=str(HERE), tag=IMAGE, rm=True, forcerm=True)
    return image


@contextlib.contextmanager
def server(network=None, alias="mariadb", server_id=1, database=DATABASE):
    """A running MariaDB: ``(container, host_url, network_url)``, where the URLs are
    ``mysql://jobs:test-password@...`` for the host (127.0.0.1, a published port) and for
    containers on ``network`` (by ``alias``)."""
    build()
    container = (
        DockerContainer(IMAGE)
        .with_command(f"--server-id={server_id}")
        .with_env("MARIADB_DATABASE", database)
        .with_env("MARIADB_USER", USER)
        .with_env("MARIADB_PASSWORD", PASSWORD)
        .with_exposed_ports(3306)
    )
    if network is not None:
        container = container.with_network(network).with_network_aliases(alias)
    with container:
        wait_for_logs(container, "start-mariadb: ready for connections", timeout=120)
        host = container.get_container_host_ip()
        port = container.get_exposed_port(3306)
        yield (
            container,
            f"mysql://{USER}:{PASSWORD}@{host}:{port}/{database}",
            f"mysql://{USER}:{PASSWORD}@{alias}:3306/{database}",
        )


def query(container, sql, database=DATABASE):
    """``sql`` run by the server's own client inside ``container`` (a testcontainer or a
    docker SDK container; as root, over its socket):
    the rows as lists of strings (tab-separated output, no header)."""
    wrapped = getattr(container, "get_wrapped_container", lambda: container)()
    code, output = wrapped.exec_run(["mariadb", "-N", "-B", database, "-e", sql])
    text = output.decode()
    if code != 0:
        raise RuntimeError(f"mariadb: {text.strip()}")
    return [line.split("\t") for line in text.splitlines()]


@contextlib.contextmanager
def replica_of(primary_alias, network, alias="mariadb-replica", delay=0):
    """A second server replicating the one reached as ``primary_alias`` on ``network``;
    ``delay`` is its ``MASTER_DELAY`` in seconds."""
    with server(network, alias=alias, server_id=2) as (container, host_url, network_url):
        query(
            container,
            f"CHANGE MASTER TO MASTER_HOST='{primary_alias}', MASTER_USER='repl', "
            f"MASTER_PASSWORD='{PASSWORD}', MASTER_USE_GTID=slave_pos, "
            f"MASTER_DELAY={int(delay)}; START REPLICA",
        )
        yield container, host_url, network_url
