"""The job's work through PgBouncer in transaction mode (Debian's pgbouncer, in a test image),
with the lock and run records on a direct connection (JOB_CONTROL_DATABASE_URL), as the
README says to deploy behind a pooler: the lock holds, a killed run resumes with nothing lost
or doubled, and nothing leaks (no lock, no transaction left open)."""

import time

import psycopg
import pytest

from tests.conftest import PG_PASSWORD, PG_USER
from tests.support.docker import ROOT, JobImage, client, create_database, finish
from tests.support.waits import wait_for

pytestmark = pytest.mark.image

DATABASE = "pgbouncer_tests"
CONFIG = """\
[databases]
* = host=db port=5432

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
pidfile =
auth_type = scram-sha-256
auth_file = /etc/pgbouncer/userlist.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 100
ignore_startup_parameters = extra_float_digits,options
"""


@pytest.fixture(scope="module")
def pooled(image, postgres, docker_network, tmp_path_factory):
    """The image, its DATABASE_URL through PgBouncer and its control connection direct."""
    config = tmp_path_factory.mktemp("pgbouncer")
    (config / "pgbouncer.ini").write_text(CONFIG)
    (config / "userlist.txt").write_text(f'"{PG_USER}" "{PG_PASSWORD}"\n')
    config.chmod(0o755)  # PgBouncer runs as nobody
    for path in config.iterdir():
        path.chmod(0o644)
    bouncer_image, _ = client().images.build(
        path=str(ROOT / "tests" / "topologies"), tag="jobs-pgbouncer:test"
    )
    direct, outside = create_database(postgres, DATABASE)
    bouncer = client().containers.create(
        bouncer_image.id, volumes={str(config): {"bind": "/etc/pgbouncer", "mode": "ro"}}
    )
    try:
        client().networks.get(docker_network.name).connect(bouncer, aliases=["pgbouncer"])
        bouncer.start()
        via_pool = f"postgres://{PG_USER}:{PG_PASSWORD}@pgbouncer:6432/{DATABASE}"
        runner = JobImage(image, docker_network.name, via_pool)
        env = {"JOB_CONTROL_DATABASE_URL": direct}
        migrated = runner.run("job", "migrate", "--noinput", env=env)
        assert migrated.exit_code == 0, migrated.stderr + bouncer.logs().decode()[-2000:]
        yield runner, env, outside
    finally:
        bouncer.remove(force=True)


def test_a_walk_through_pgbouncer_holds_its_lock_and_resumes_after_a_kill(pooled, report):
    runner, env, outside = pooled
    with psycopg.connect(outside, autocommit=True) as db:
        db.execute("TRUNCATE testjobs_item, batch_jobs_run RESTART IDENTITY CASCADE")
        db.execute("TRUNCATE batch_jobs_checkpoint")
        db.execute(
            "INSERT INTO testjobs_item (name, batch) SELECT 'item-' || g, '' "
            "FROM generate_series(1, 1000) g"
        )
        walk = ["job", "upper_items", "--batch-size", "20"]
        # Slow enough (25 s) that it is still walking when killed, however slowly the second
        # run's container starts on a busy machine; the pace is not part of the walk, so the
        # rerun resumes it at full speed.
        first = runner.start(*walk, "--throttle", "0.5", env=env)
        deadline = time.monotonic() + 60
        while not db.execute("SELECT rows FROM batch_jobs_checkpoint").fetchone():
            assert time.monotonic() < deadline, first.logs().decode()
            time.sleep(0.05)
        second = runner.run(*walk, env=env)  # the lock holds across the pooler
        report.add("through PgBouncer: a second run", second.exit_code, {75})
        assert second.exit_code == 75, second.stderr
        first.kill(signal="SIGKILL")
        assert finish(first).exit_code == 137
        rerun = runner.run(*walk, env=env)
        assert rerun.exit_code == 0, rerun.stderr
        upper = db.execute("SELECT count(*) FROM testjobs_item WHERE name LIKE 'ITEM-%'")
        (walked, this_run) = db.execute(
            "SELECT walk->'counters', counters FROM batch_jobs_run WHERE status = 'succeeded'"
        ).fetchone()
        lost = 1000 - upper.fetchone()[0]
        doubled = walked["checked"] - 1000  # a batch walked twice counts twice
        report.add("through PgBouncer: killed mid-run", 0, {0}, lost=lost, doubled=doubled)
        assert (lost, doubled) == (0, 0)
        assert walked["changed"] == 1000 and 0 < this_run["checked"] < 1000  # it resumed
        statuses = [s for (s,) in db.execute("SELECT status FROM batch_jobs_run ORDER BY id")]
        assert statuses == ["abandoned", "blocked", "succeeded"]
        # Nothing leaks: no advisory lock held, no transaction left open behind the pooler
        # (the server frees a closed session's lock once it sees the connection gone).
        wait_for(
            lambda: (
                not db.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                ).fetchone()[0]
            ),
            "no advisory lock held",
            timeout=30,
        )
        assert (
            db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND state LIKE 'idle in transaction%%'",
                [DATABASE],
            ).fetchone()[0]
            == 0
        )
