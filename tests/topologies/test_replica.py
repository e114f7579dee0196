"""A real streaming replica: PostgreSQL 17 following a primary, both in containers. Pausing
the replica's replay (pg_wal_replay_pause) makes lag on demand; a walk run with --max-lag
waits while it lasts and goes on when replay resumes."""

import json
import time

import psycopg
import pytest

from tests.conftest import PG_IMAGE, PG_PASSWORD, PG_USER
from tests.support.replication import job, streaming_pair

pytestmark = pytest.mark.image


@pytest.fixture(scope="module")
def primary_and_replica(docker_network):
    with streaming_pair(docker_network, PG_IMAGE, PG_USER, PG_PASSWORD) as (*_, primary, replica):
        yield primary, replica


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
        time.sleep(2)  # kept: a time in which nothing may happen (no batch while it lags)
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
