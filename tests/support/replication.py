"""A primary PostgreSQL 17 and a streaming replica following it, both in containers on the
test network: the replica is a base backup of the primary (``pg_basebackup -R``)."""

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from testcontainers.community.postgres import PostgresContainer

from tests.support.docker import client

ROOT = Path(__file__).resolve().parents[2]
PGDATA = "/var/lib/postgresql/data"


@contextlib.contextmanager
def streaming_pair(network, image, user, password, dbname="jobs"):
    """``(primary, replica, primary_url, replica_url)``: the primary's testcontainer, the
    replica's container, and URLs for the host (127.0.0.1)."""
    primary = (
        PostgresContainer(image, username=user, password=password, dbname=dbname, driver=None)
        .with_network(network)
        .with_network_aliases("primary")
        .with_volume_mapping(
            str(ROOT / "tests" / "topologies" / "allow-replication.sh"),
            "/docker-entrypoint-initdb.d/replication.sh",
        )
    )
    standby = (
        f"until pg_basebackup -h primary -U {user} -D {PGDATA} -R -X stream; do sleep 0.5; done"
        " && exec docker-entrypoint.sh postgres"
    )
    with primary:
        replica = client().containers.run(
            image,
            entrypoint=["bash", "-c", standby],
            environment={"PGPASSWORD": password},
            network=network.name,
            ports={"5432/tcp": ("127.0.0.1", None)},
            detach=True,
        )
        try:
            replica.reload()
            port = replica.ports["5432/tcp"][0]["HostPort"]
            host, primary_port = primary.get_container_host_ip(), primary.get_exposed_port(5432)
            primary_url = f"postgresql://{user}:{password}@{host}:{primary_port}/{dbname}"
            replica_url = f"postgresql://{user}:{password}@127.0.0.1:{port}/{dbname}"
            wait_for_streaming(primary_url, replica)
            wait_for_connections(replica_url, replica)
            yield primary, replica, primary_url, replica_url
        finally:
            replica.remove(force=True)


def wait_for_streaming(primary_url, replica, timeout=60):
    deadline = time.monotonic() + timeout
    with psycopg.connect(primary_url, autocommit=True) as conn:
        while not conn.execute(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
        ).fetchone()[0]:
            replica.reload()
            assert replica.status == "running", replica.logs().decode()[-3000:]
            assert time.monotonic() < deadline, replica.logs().decode()[-3000:]
            time.sleep(0.2)


def wait_for_connections(url, container, timeout=60):
    """Wait until the server at ``url`` accepts connections: a standby that streams may still
    answer "the database system is starting up" until it reaches a consistent state."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=5).close()
            return
        except psycopg.OperationalError:
            container.reload()
            assert container.status == "running", container.logs().decode()[-3000:]
            assert time.monotonic() < deadline, container.logs().decode()[-3000:]
            time.sleep(0.2)


def caught_up(primary_url, timeout=30):
    """Wait until every replica has replayed all the primary's WAL so far."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(primary_url, autocommit=True) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        while conn.execute(
            "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn < %s", [target]
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.1)


def job(database_url, *args, popen=False):
    """This checkout's ``job`` script (the test settings) on ``database_url``: its result, or
    with ``popen`` the running process (text pipes)."""
    command = [str(Path(sys.executable).with_name("job")), *args]
    env = {**os.environ, "DATABASE_URL": database_url, "JOB_LOG_FORMAT": "json"}
    if popen:
        return subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
