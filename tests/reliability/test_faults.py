"""Faults against the real image and a real PostgreSQL: nothing lost, nothing doubled.

Each case ends by checking the database row by row against the state an uninterrupted run
leaves. `make test` runs a seeded sample; `make reliability` (RELIABILITY=full) runs them all.
"""

import threading
import time
import uuid

import docker
import psycopg
import pytest

from tests.support.docker import client, finish
from tests.support.locks import lock_is_free
from tests.support.reliability import cases, full_only, rng

pytestmark = pytest.mark.image

ROWS = 2000
BATCH = 100
WALK = ["job", "normalize_emails", "--batch-size", str(BATCH)]
# 20 batches with a 0.1 s pause after each: a walk of about 2.5 s to aim signals at.
NORMALIZE = [*WALK, "--throttle", "0.1"]


def start_walk(runner, throttle, after, **kwargs):
    """Start a normalize_emails walk in the image; return ``after`` seconds into it."""
    container = runner.start(*WALK, "--throttle", str(throttle), test_jobs=False, **kwargs)
    wait_for_log(container, '"event": "start"')
    time.sleep(after)
    return container


@pytest.fixture
def db(image_database):
    with psycopg.connect(image_database[1], autocommit=True) as conn:
        conn.execute(
            "TRUNCATE store_customer, batch_jobs_run, batch_jobs_checkpoint "
            "RESTART IDENTITY CASCADE"
        )
        seed_customers(conn)
        yield conn


def seed_customers(conn):
    """ROWS customers, every other one with an e-mail that normalize_emails changes."""
    conn.execute(
        "INSERT INTO store_customer (email, name) SELECT CASE WHEN i % 2 = 1 "
        "THEN '  User' || i || '@Example.COM ' ELSE 'user' || i || '@example.com' END, '' "
        f"FROM generate_series(1, {ROWS}) AS i"
    )


def emails(db):
    return db.execute("SELECT id, email FROM store_customer ORDER BY id").fetchall()


def expected(original):
    return [(pk, email.strip().lower()) for pk, email in original]


def checkpoint(db):
    row = db.execute("SELECT last_key FROM batch_jobs_checkpoint").fetchone()
    return row[0] if row else 0


def half_applied(db, original):
    """Rows that break the prefix rule: up to the checkpoint every row is normalised and
    after it none is. Anything else is a batch committed without its checkpoint or the
    reverse."""
    last = checkpoint(db)
    clean = dict(expected(original))
    raw = dict(original)
    return sum(1 for pk, email in emails(db) if email != (clean[pk] if pk <= last else raw[pk]))


def running(db):
    return db.execute("SELECT count(*) FROM batch_jobs_run WHERE status = 'running'").fetchone()[0]


def rerun_and_compare(job_image, db, original, report, kind, first_exit):
    """Finish the walk and compare with an uninterrupted run; record the case."""
    broken = half_applied(db, original)
    again = job_image.run(*NORMALIZE, test_jobs=False)
    final = emails(db)
    lost = sum(1 for a, b in zip(final, expected(original), strict=True) if a != b)
    checked = db.execute(
        "SELECT counters->>'checked' FROM batch_jobs_run WHERE exit_code = 0 "
        "AND job = 'normalize_emails' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    doubled = max(int(checked[0]) - ROWS, 0) if checked else 0
    report.add(
        kind,
        first_exit,
        kind_codes[kind],
        lost=lost + broken,
        doubled=doubled,
        left_running=running(db),
    )
    assert again.exit_code == 0, again.stderr
    assert broken == 0
    assert final == expected(original)
    assert doubled == 0
    assert running(db) == 0
    assert checkpoint(db) == 0  # a finished walk clears it


kind_codes = {
    "SIGTERM mid-batch": {143, 0},
    "SIGKILL mid-batch": {137, 0},
    "docker stop, grace < batch": {137, 143, 0},
}


@pytest.fixture
def slow_commits(db):
    """Make every batch's COMMIT take 0.1 s: a deferred constraint trigger sleeps at commit
    time, once per batch of 100, so that a good share of the seeded signals land inside
    COMMIT itself."""
    db.execute(
        "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(0.1); RETURN NULL; END $$"
    )
    db.execute(
        "CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON store_customer "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.id % 100 = 1) "
        "EXECUTE FUNCTION slow_commit()"
    )
    yield
    db.execute("DROP TRIGGER slow_commit ON store_customer")
    db.execute("DROP FUNCTION slow_commit()")


@pytest.mark.parametrize("point", range(cases(full=24, sample=2)))
def test_sigterm_at_seeded_points(job_image, db, slow_commits, report, point):
    original = emails(db)
    container = start_walk(job_image, 0.1, rng(f"sigterm{point}").uniform(0, 2.0))
    signal_unless_done(container, "SIGTERM")
    result = finish(container)
    assert result.exit_code in (143, 0), result.stderr
    if result.exit_code == 143:
        status = db.execute("SELECT status FROM batch_jobs_run ORDER BY id DESC LIMIT 1").fetchone()
        assert status == ("interrupted",)
    rerun_and_compare(job_image, db, original, report, "SIGTERM mid-batch", result.exit_code)


@pytest.mark.parametrize("point", range(cases(full=4, sample=1)))
def test_sigkill_mid_batch(job_image, db, report, point):
    original = emails(db)
    container = start_walk(job_image, 0.1, rng(f"sigkill{point}").uniform(0.2, 1.8))
    signal_unless_done(container, "SIGKILL")
    result = finish(container)
    assert result.exit_code in (137, 0)
    if result.exit_code == 137:
        assert running(db) == 1  # until the next run takes the lock and marks it
    rerun_and_compare(job_image, db, original, report, "SIGKILL mid-batch", result.exit_code)
    if result.exit_code == 137:
        assert db.execute(
            "SELECT count(*) FROM batch_jobs_run WHERE status = 'abandoned'"
        ).fetchone() == (1,)


def test_docker_stop_with_a_grace_shorter_than_a_batch(job_image, db, report):
    original = emails(db)
    container = start_walk(job_image, 1, 0.5)
    container.stop(timeout=0)  # SIGTERM, then SIGKILL at once
    result = finish(container)
    rerun_and_compare(
        job_image, db, original, report, "docker stop, grace < batch", result.exit_code
    )


def signal_unless_done(container, signal):
    """Send ``signal``; a run that finished first is a case too (exit 0)."""
    try:
        container.kill(signal=signal)
    except docker.errors.APIError as e:
        if e.status_code != 409:  # 409: the container is no longer running
            raise


def wait_for_log(container, text, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in container.logs(stdout=False, stderr=True).decode():
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never logged:\n{container.logs().decode()}")


@pytest.mark.parametrize("n", [2, pytest.param(10, marks=full_only)])
def test_concurrent_runs_do_the_work_exactly_once(job_image, image_database, report, n):
    with psycopg.connect(image_database[1], autocommit=True) as db:
        db.execute("TRUNCATE testjobs_item, batch_jobs_run RESTART IDENTITY CASCADE")
        containers = [None] * n
        barrier = threading.Barrier(n)

        def start(i):
            barrier.wait()
            # Long enough (about 12 s) that every container has started before the winner
            # ends: two cores start ten containers over several seconds.
            containers[i] = job_image.start(
                "job", "slow_batches", "--batches", "4", "--size", "5", "--sleep", "3"
            )

        threads = [threading.Thread(target=start, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results = [finish(c, timeout=180) for c in containers]
        codes = sorted(r.exit_code for r in results)
        rows = db.execute("SELECT count(*) FROM testjobs_item").fetchone()[0]
        left = db.execute("SELECT count(*) FROM batch_jobs_run WHERE status='running'").fetchone()[
            0
        ]
        for code in codes:
            report.add(f"{n} concurrent runs", code, {0, 75}, left_running=0)
        report.cases[-1].lost = max(20 - rows, 0)
        report.cases[-1].doubled = max(rows - 20, 0)
        report.cases[-1].left_running = left
        assert codes == [0] + [75] * (n - 1), [r.stderr[-500:] for r in results]
        assert rows == 20
        assert left == 0
        for result in results:
            if result.exit_code == 75:
                assert "already running: slow_batches" in result.stderr


def test_database_reachable_a_little_later(job_image, postgres, report):
    """The job starts on a network the database joins two seconds later."""
    network = client().networks.create(f"late-{uuid.uuid4().hex[:8]}")
    url = job_image.database_url.replace("@db:", "@latedb:")
    try:
        container = job_image.start(
            "job",
            "cleanup_tokens",
            "--dry-run",
            env={"DATABASE_URL": url, "JOB_DB_WAIT_SECONDS": "30"},
            network=network.name,
        )
        wait_for_log(container, '"event": "db_wait"')
        network.connect(postgres.get_wrapped_container(), aliases=["latedb"])
        result = finish(container)
    finally:
        network.reload()
        for attached in network.containers:
            network.disconnect(attached, force=True)
        network.remove()
    report.add("database up during the wait", result.exit_code, {0})
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "[dry-run] 0 candidates for deletion\n"


def test_database_unreachable_at_start(job_image, report):
    env = {"DATABASE_URL": "postgres://u:p@nowhere.invalid/x", "JOB_DB_WAIT_SECONDS": "1"}
    result = job_image.run("job", "cleanup_tokens", env=env)
    report.add("database unreachable at start", result.exit_code, {69})
    assert result.exit_code == 69


def test_backend_terminated_mid_run(job_image, db, report):
    original = emails(db)
    container = start_walk(job_image, 0.3, 0.8)
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    result = finish(container)
    kind_codes["backend terminated"] = {75}
    assert "Traceback" not in result.stderr
    rerun_and_compare(job_image, db, original, report, "backend terminated", result.exit_code)
    assert result.exit_code == 75, result.stderr


@pytest.mark.parametrize("fault", ["stopped", pytest.param("paused", marks=full_only)])
def test_postgres_stopped_or_paused_mid_run(image, docker_network, report, fault):
    """A server of its own, stopped (fast shutdown) or frozen (``docker pause``: its kernel
    still acknowledges TCP, so only the job's own deadline notices) during a walk, then
    started again."""
    from testcontainers.community.postgres import PostgresContainer

    from tests.conftest import PG_IMAGE
    from tests.support.docker import JobImage

    server = (
        PostgresContainer(PG_IMAGE, username="jobs", password="pw", dbname="jobs", driver=None)
        .with_network(docker_network)
        .with_network_aliases("faultdb")
    )
    with server:
        runner = JobImage(image, docker_network.name, "postgres://jobs:pw@faultdb:5432/jobs")
        assert runner.run("job", "migrate", "--noinput", test_jobs=False).exit_code == 0

        def connect():
            host, port = server.get_container_host_ip(), server.get_exposed_port(5432)
            return psycopg.connect(f"postgresql://jobs:pw@{host}:{port}/jobs", autocommit=True)

        with connect() as conn:
            seed_customers(conn)
            original = emails(conn)
        env = {"JOB_DB_WAIT_SECONDS": "2", "JOB_DB_TIMEOUT": "3"}
        container = start_walk(runner, 0.3, 1.0, env=env)
        pg = server.get_wrapped_container()
        if fault == "stopped":
            pg.stop(timeout=10)
            result = finish(container)
            pg.start()
            server._connect()  # wait until it accepts connections again (new host port)
        else:
            pg.pause()
            try:
                result = finish(container)
            finally:
                pg.unpause()
        with connect() as conn:
            lock_freed = lock_is_free(conn, "django-jobs:normalize_emails")
            broken = half_applied(conn, original)
            again = runner.run(*WALK, test_jobs=False)
            final = emails(conn)
            left = running(conn)
            abandoned_or_failed = conn.execute(
                "SELECT count(*) FROM batch_jobs_run WHERE status IN ('failed', 'abandoned')"
            ).fetchone()[0]
        lost = sum(1 for a, b in zip(final, expected(original), strict=True) if a != b)
        report.add(
            f"PostgreSQL {fault} mid-run",
            result.exit_code,
            {75},
            lost=lost + broken,
            left_running=left,
        )
        assert result.exit_code == 75, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines()[-1].startswith("CommandError: database error"), (
            result.stderr
        )
        assert lock_freed
        assert broken == 0
        assert again.exit_code == 0, again.stderr
        assert final == expected(original)
        assert left == 0 and abandoned_or_failed == 1
