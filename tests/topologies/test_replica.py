"""A real streaming replica: PostgreSQL 17 following a primary, both in containers. Pausing
the replica's replay (pg_wal_replay_pause) makes lag on demand; a walk run with --max-lag
waits while it lasts and goes on when replay resumes."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from testcontainers.community.postgres import PostgresContainer

from tests.conftest import PG_IMAGE, PG_PASSWORD, PG_USER
from tests.support.docker import client

pytestmark = pytest.mark.image

HERE = Path(__file__).resolve().parent
PGDATA = "/var/lib/postgresql/data"
# The standby: a base backup of the primary (-R writes its primary_conninfo), then postgres.
STANDBY = (
    f"until pg_basebackup -h primary -U {PG_USER} -D {PGDATA} -R -X stream; do sleep 0.5; done"
    f" && exec docker-entrypoint.sh postgres -c hot_standby_feedback=on"
)


def url(container, dbname="jobs"):
    host, port = container.get_container_host_ip(), container.get_exposed_port(5432)
    return f"postgresql://{PG_USER}:{PG_PASSWORD}@{host}:{port}/{dbname}"


@pytest.fixture(scope="module")
def primary_and_replica(docker_network):
    primary = (
        PostgresContainer(
            PG_IMAGE, username=PG_USER, password=PG_PASSWORD, dbname="jobs", driver=None
        )
        .with_network(docker_network)
        .with_network_aliases("primary")
        .with_volume_mapping(
            str(HERE / "allow-replication.sh"), "/docker-entrypoint-initdb.d/replication.sh"
        )
    )
    with primary:
        replica = client().containers.run(
            PG_IMAGE,
            entrypoint=["bash", "-c", STANDBY],
            environment={"PGPASSWORD": PG_PASSWORD},
            network=docker_network.name,
            ports={"5432/tcp": ("127.0.0.1", None)},
            detach=True,
        )
        try:
            replica.reload()
            port = replica.ports["5432/tcp"][0]["HostPort"]
            replica_url = f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{port}/jobs"
            wait_for_streaming(url(primary), replica)
            yield url(primary), replica_url
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


def job(database_url, *args, popen=False):
    command = [str(Path(sys.executable).with_name("job")), *args]
    env = {**os.environ, "DATABASE_URL": database_url, "JOB_LOG_FORMAT": "json"}
    if popen:
        return subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_a_lagging_replica_holds_the_walk_and_its_recovery_resumes_it(primary_and_replica):
    primary, replica = primary_and_replica
    migrated = job(primary, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    with psycopg.connect(primary, autocommit=True) as conn:
        conn.execute("TRUNCATE testjobs_item, batch_jobs_run RESTART IDENTITY CASCADE")
        conn.execute(
            "INSERT INTO testjobs_item (name, batch) SELECT 'item-' || g, '' "
            "FROM generate_series(1, 2000) g"
        )
    with psycopg.connect(replica, autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        walk = job(
            primary, "upper_items", "--batch-size", "50", "--throttle", "0.05",
            "--max-lag", "1", "--max-health-wait", "120", popen=True,
        )  # fmt: skip
        events = []
        for line in walk.stderr:
            if line.startswith("{"):
                events.append(json.loads(line))
                if events[-1]["event"] == "throttled":
                    break
        assert walk.poll() is None, "".join(walk.stderr)
        with psycopg.connect(primary, autocommit=True) as conn:
            held = conn.execute("SELECT count(*) FROM testjobs_item WHERE name LIKE 'ITEM-%'")
            done = held.fetchone()[0]
        time.sleep(2)
        with psycopg.connect(primary, autocommit=True) as conn:
            still = conn.execute("SELECT count(*) FROM testjobs_item WHERE name LIKE 'ITEM-%'")
            assert still.fetchone()[0] == done < 2000  # it waits: no batch meanwhile
        standby.execute("SELECT pg_wal_replay_resume()")
    _, err = walk.communicate(timeout=120)
    assert walk.returncode == 0, err
    events += [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert names.index("throttled") < names.index("unthrottled") < names.index("finish")
    assert events[names.index("throttled")]["reason"].startswith("replica lag ")
    with psycopg.connect(primary, autocommit=True) as conn:
        assert (
            conn.execute("SELECT count(*) FROM testjobs_item WHERE name LIKE 'ITEM-%'").fetchone()[
                0
            ]
            == 2000
        )
        (walked,) = conn.execute("SELECT walk FROM batch_jobs_run").fetchone()
    assert walked["health_waits"] >= 1 and walked["health_wait_s"] >= 2
