"""A failover: the primary stops mid-walk, the streaming replica is promoted, the run has
exited 75, and the rerun against the new primary resumes from the checkpoint, which the
replica has with the data it covers: nothing lost, nothing done twice."""

import time

import psycopg
import pytest

from tests.conftest import PG_IMAGE, PG_PASSWORD, PG_USER
from tests.support.replication import caught_up, job, streaming_pair

pytestmark = pytest.mark.image

ROWS = 2000


def test_a_walk_survives_a_failover_to_the_promoted_replica(docker_network, report):
    pair = streaming_pair(docker_network, PG_IMAGE, PG_USER, PG_PASSWORD)
    with pair as (primary, _, primary_url, replica_url):
        assert job(primary_url, "migrate", "--noinput").returncode == 0
        with psycopg.connect(primary_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO testjobs_item (name, batch) SELECT 'item-' || g, '' "
                f"FROM generate_series(1, {ROWS}) g"
            )
        caught_up(primary_url)
        walk = job(
            primary_url, "upper_items", "--batch-size", "20", "--throttle", "0.05", popen=True
        )
        with psycopg.connect(primary_url, autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while (
                conn.execute("SELECT max(rows) FROM batch_jobs_checkpoint").fetchone()[0] or 0
            ) < 200:
                assert time.monotonic() < deadline and walk.poll() is None
                time.sleep(0.05)
        primary.get_wrapped_container().stop(timeout=30)  # a fast shutdown, mid-walk
        _, stderr = walk.communicate(timeout=120)
        report.add("failover: primary stopped mid-run", walk.returncode, {75})
        assert walk.returncode == 75, stderr
        assert stderr.splitlines()[-1].startswith("CommandError: database error, safe to retry")

        with psycopg.connect(replica_url, autocommit=True) as conn:
            conn.execute("SELECT pg_promote()")
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
            (kept,) = conn.execute("SELECT rows FROM batch_jobs_checkpoint").fetchone()
        rerun = job(replica_url, "upper_items", "--batch-size", "20")
        assert rerun.returncode == 0, rerun.stderr
        with psycopg.connect(replica_url, autocommit=True) as conn:
            upper = conn.execute("SELECT count(*) FROM testjobs_item WHERE name LIKE 'ITEM-%'")
            lost = ROWS - upper.fetchone()[0]
            records = conn.execute(
                "SELECT status, counters, walk FROM batch_jobs_run ORDER BY id"
            ).fetchall()
        (first_status, *_), (status, counters, walked) = records
        doubled = walked["counters"]["checked"] - ROWS  # a batch walked twice counts twice
        report.add(
            "failover: rerun on the promoted replica",
            rerun.returncode,
            {0},
            lost=lost,
            doubled=doubled,
        )
        assert (lost, doubled) == (0, 0)
        assert (first_status, status) == ("abandoned", "succeeded")
        assert counters["checked"] == ROWS - kept  # it resumed where the replica's checkpoint says
