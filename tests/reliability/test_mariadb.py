"""The database rows of the reliability report on MariaDB: the image's containers against a
MariaDB server from Debian's package (tests/support/mariadb) on the test network.

The same faults as on PostgreSQL (test_faults.py, tests/topologies): two runs at once in two
containers, SIGKILL mid-walk and a rerun, four shards as four containers, a lagging replica
under ``--max-lag``, the server stopped mid-run, and the exit codes of a server that refuses
the job or is not there. The host has no MySQL driver, so every check reads the database
through the server's own client (``query``), row by row against what an uninterrupted run
leaves. `make test` runs the lock's row and the exit codes; `make
reliability` (RELIABILITY=full) runs them all.
"""

import json
import threading
import time
import uuid

import pytest

from tests.reliability.test_faults import signal_unless_done, wait_for_log
from tests.support import mariadb
from tests.support.docker import JobImage, finish
from tests.support.reliability import cases, full_only, rng

pytestmark = pytest.mark.image

ROWS = 2000
BATCH = 100
WALK = ["job", "normalize_emails", "--batch-size", str(BATCH)]
# 20 batches with a 0.1 s pause after each: a walk of about 2.5 s to aim faults at.
NORMALIZE = [*WALK, "--throttle", "0.1"]
RESET = (
    "SET FOREIGN_KEY_CHECKS = 0; TRUNCATE store_customer; TRUNCATE testjobs_item; "
    "TRUNCATE batch_jobs_request; TRUNCATE batch_jobs_run; TRUNCATE batch_jobs_checkpoint; "
    "TRUNCATE batch_jobs_shard_plan; TRUNCATE batch_jobs_pause; SET FOREIGN_KEY_CHECKS = 1"
)
# ROWS customers, every other one with an e-mail that normalize_emails changes (MariaDB's
# sequence engine stands for generate_series).
SEED = (
    "INSERT INTO store_customer (email, name) SELECT CASE WHEN seq % 2 = 1 "
    "THEN CONCAT('  User', seq, '@Example.COM ') ELSE CONCAT('user', seq, '@example.com') END, "
    f"'' FROM seq_1_to_{ROWS}"
)


class Database:
    """The server's container, and what the checks read through its client. Values are
    compared in Python: the server's default collation is case- and pad-blind."""

    def __init__(self, container):
        self.container = container

    def query(self, sql):
        return mariadb.query(self.container, sql)

    def reset(self, seed=True):
        self.query(RESET + (f"; {SEED}" if seed else ""))

    def emails(self):
        return [
            (int(pk), email)
            for pk, email in self.query("SELECT id, email FROM store_customer ORDER BY id")
        ]

    def checkpoint(self):
        rows = self.query("SELECT last_key FROM batch_jobs_checkpoint")
        return json.loads(rows[0][0]) if rows else 0

    def runs(self):
        """Every run record, oldest first: status, exit code, counters and walk."""
        rows = self.query(
            "SELECT status, IFNULL(exit_code, ''), counters, IFNULL(walk, 'null') "
            "FROM batch_jobs_run ORDER BY id"
        )
        return [
            {
                "status": status,
                "exit_code": int(code) if code else None,
                "counters": json.loads(counters),
                "walk": json.loads(walk),
            }
            for status, code, counters, walk in rows
        ]

    def running(self):
        return sum(1 for run in self.runs() if run["status"] == "running")

    def half_applied(self, original):
        """Rows that break the prefix rule: up to the checkpoint every row is normalised and
        after it none is."""
        last = self.checkpoint()
        return sum(
            1
            for (pk, email), (_, raw) in zip(self.emails(), original, strict=True)
            if email != (raw.strip().lower() if pk <= last else raw)
        )


def expected(original):
    return [(pk, email.strip().lower()) for pk, email in original]


@pytest.fixture(scope="module")
def server(docker_network):
    with mariadb.server(docker_network, alias="mariadb") as (container, _, url):
        yield container, url


@pytest.fixture(scope="module")
def maria_image(image, docker_network, server):
    """The image on the MariaDB server, migrated by the image itself (the test jobs too)."""
    runner = JobImage(image, docker_network.name, server[1])
    result = runner.run("job", "migrate", "--noinput")
    assert result.exit_code == 0, result.stderr
    return runner


@pytest.fixture
def db(server, maria_image):
    database = Database(server[0])
    database.reset()
    return database


def start_walk(runner, throttle, after, **kwargs):
    """Start a normalize_emails walk in the image; return ``after`` seconds into it."""
    container = runner.start(*WALK, "--throttle", str(throttle), test_jobs=False, **kwargs)
    wait_for_log(container, '"event": "start"')
    time.sleep(after)
    return container


def test_two_runs_at_once_in_two_containers_one_exits_75(maria_image, db, report):
    """The lock holds across machines: two containers are two machines to it."""
    db.reset(seed=False)
    containers = [None, None]
    barrier = threading.Barrier(2)

    def start(i):
        barrier.wait()
        containers[i] = maria_image.start(
            "job", "slow_batches", "--batches", "4", "--size", "5", "--sleep", "2"
        )

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = [finish(c, timeout=180) for c in containers]
    codes = sorted(r.exit_code for r in results)
    rows = int(db.query("SELECT count(*) FROM testjobs_item")[0][0])
    left = db.running()
    for code in codes:
        report.add("MariaDB: 2 concurrent runs", code, {0, 75})
    report.cases[-1].lost = max(20 - rows, 0)
    report.cases[-1].doubled = max(rows - 20, 0)
    report.cases[-1].left_running = left
    assert codes == [0, 75], [r.stderr[-800:] for r in results]
    assert rows == 20
    assert left == 0
    (blocked,) = [r for r in results if r.exit_code == 75]
    assert "already running: slow_batches" in blocked.stderr
    assert [r["status"] for r in db.runs()] in (
        ["succeeded", "blocked"],
        ["blocked", "succeeded"],
    )


@pytest.mark.parametrize(
    ("fault", "code"),
    [("access denied", 78), ("unknown database", 78), ("server unreachable", 69)],
)
def test_the_exit_code_contract_at_start(maria_image, server, report, fault, code):
    """What waiting cannot fix is 78 at once, a server not there 69 after the wait; one line,
    never the password."""
    url = {
        "access denied": server[1].replace(mariadb.PASSWORD, "wrong-Pa55"),
        "unknown database": server[1].rsplit("/", 1)[0] + "/no_such_database",
        "server unreachable": "mysql://jobs:wrong-Pa55@nowhere.invalid:3306/jobs",
    }[fault]
    env = {"DATABASE_URL": url, "JOB_DB_WAIT_SECONDS": "1"}
    result = maria_image.run("job", "cleanup_tokens", env=env, test_jobs=False)
    leaked = "wrong-Pa55" in result.stdout + result.stderr
    report.add(f"MariaDB: {fault} at start", result.exit_code, {code}, lost=int(leaked))
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stderr
    assert not leaked


@full_only
@pytest.mark.parametrize("point", range(cases(full=3, sample=0)))
def test_sigkill_mid_walk_then_a_rerun_loses_and_doubles_nothing(maria_image, db, report, point):
    original = db.emails()
    container = start_walk(maria_image, 0.1, rng(f"maria-sigkill{point}").uniform(0.2, 1.8))
    signal_unless_done(container, "SIGKILL")
    result = finish(container)
    broken = db.half_applied(original)
    if result.exit_code == 137:
        assert db.running() == 1  # until the next run takes the lock and marks it
    again = maria_image.run(*NORMALIZE, test_jobs=False)
    final = db.emails()
    lost = sum(1 for a, b in zip(final, expected(original), strict=True) if a != b)
    runs = db.runs()
    # The rerun resumes after the checkpoint: the walk's totals are every row, once.
    walked = runs[-1]["walk"] or {}
    doubled = max(walked.get("counters", {}).get("checked", 0) - ROWS, 0)
    report.add(
        "MariaDB: SIGKILL mid-walk",
        result.exit_code,
        {137, 0},
        lost=lost + broken,
        doubled=doubled,
        left_running=db.running(),
    )
    assert result.exit_code in (137, 0), result.stderr
    assert again.exit_code == 0, again.stderr
    assert broken == 0
    assert final == expected(original)
    assert doubled == 0
    assert db.running() == 0
    assert db.checkpoint() == 0  # a finished walk clears it
    if result.exit_code == 137:
        assert [r["status"] for r in runs] == ["abandoned", "succeeded"]


@full_only
def test_four_shards_as_four_containers_cover_every_row_once(maria_image, db, report):
    original = db.emails()
    containers = [maria_image.start(*WALK, "--shard", f"{i}/4", test_jobs=False) for i in range(4)]
    results = [finish(c, timeout=180) for c in containers]
    final = db.emails()
    checked = [r["counters"].get("checked", 0) for r in db.runs()]
    lost = sum(1 for a, b in zip(final, expected(original), strict=True) if a != b)
    for result in results:
        report.add("MariaDB: 4 shards, 4 containers", result.exit_code, {0})
    report.cases[-1].lost = lost + max(ROWS - sum(checked), 0)
    report.cases[-1].doubled = max(sum(checked) - ROWS, 0)
    report.cases[-1].left_running = db.running()
    assert [r.exit_code for r in results] == [0] * 4, [r.stderr[-800:] for r in results]
    assert final == expected(original)
    assert sum(checked) == ROWS and len(checked) == 4
    # Balanced ranges: each shard walks about a quarter of the keys.
    assert all(ROWS / 8 <= n <= ROWS / 2 for n in checked), checked
    assert db.query("SELECT count(*) FROM batch_jobs_shard_plan") == [["0"]]
    assert db.running() == 0


@full_only
def test_a_lagging_replica_holds_a_max_lag_walk_until_it_catches_up(
    docker_network, maria_image, db, report
):
    """A replica of the test server, reached as the job's ``JOB_REPLICA_DATABASES`` alias
    (the example project's JOB_REPLICA_DATABASE_URLS): ``MASTER_DELAY`` makes it lag; the
    walk waits with no batch meanwhile, and goes on once the delay is lifted."""
    original = db.emails()
    with mariadb.replica_of("mariadb", docker_network) as (replica, _, replica_url):
        caught_up(db, replica)
        mariadb.query(replica, "STOP REPLICA; CHANGE MASTER TO MASTER_DELAY = 3600; START REPLICA")
        env = {"JOB_REPLICA_DATABASE_URLS": replica_url}
        walk = maria_image.start(
            "job", "normalize_emails", "--batch-size", "50", "--throttle", "0.1", "--max-lag", "1",
            "--max-health-wait", "120", env=env, test_jobs=False,
        )  # fmt: skip
        wait_for_log(walk, '"event": "throttled"')
        done = normalised(db, original)
        time.sleep(2)  # kept: a time in which nothing may happen (no batch while it lags)
        still = normalised(db, original)
        mariadb.query(replica, "STOP REPLICA; CHANGE MASTER TO MASTER_DELAY = 0; START REPLICA")
        result = finish(walk, timeout=180)
    events = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    names = [e["event"] for e in events]
    final = db.emails()
    lost = sum(1 for a, b in zip(final, expected(original), strict=True) if a != b)
    report.add("MariaDB: replica lag, --max-lag", result.exit_code, {0}, lost=lost)
    assert result.exit_code == 0, result.stderr
    assert still == done < ROWS // 2  # it waited: no batch meanwhile
    assert names.index("throttled") < names.index("unthrottled") < names.index("finish")
    assert events[names.index("throttled")]["reason"].startswith("replica lag ")
    assert final == expected(original)
    (run,) = db.runs()
    assert run["walk"]["health_waits"] >= 1 and run["walk"]["health_wait_s"] >= 2


def normalised(db, original):
    """How many of the rows the walk changes it has changed so far."""
    return sum(1 for (_, now), (_, raw) in zip(db.emails(), original, strict=True) if now != raw)


def caught_up(db, replica, timeout=60):
    """Until ``replica`` has applied everything the primary has logged so far."""
    target = db.query("SELECT @@gtid_binlog_pos")[0][0]
    deadline = time.monotonic() + timeout
    while mariadb.query(replica, "SELECT @@gtid_slave_pos")[0][0] != target:
        assert time.monotonic() < deadline, mariadb.query(replica, "SHOW REPLICA STATUS")
        time.sleep(0.2)


@full_only
def test_server_stopped_mid_run_exits_75_and_the_rerun_resumes(image, docker_network, report):
    """A server of its own, stopped (a clean shutdown, as a restart for maintenance does)
    during a walk, then started again: the run exits 75 and the next resumes after its
    checkpoint."""
    with mariadb.server(docker_network, alias="faultmaria") as (container, _, url):
        runner = JobImage(image, docker_network.name, url)
        assert runner.run("job", "migrate", "--noinput").exit_code == 0
        db = Database(container)
        db.reset()
        original = db.emails()
        env = {"JOB_DB_WAIT_SECONDS": "2", "JOB_DB_TIMEOUT": "3"}
        walk = start_walk(runner, 0.3, 1.0, env=env)
        server = container.get_wrapped_container()
        server.stop(timeout=20)
        result = finish(walk)
        server.start()
        wait_until_ready(server, times=2)
        reached = db.checkpoint()
        broken = db.half_applied(original)
        again = runner.run(*WALK, test_jobs=False)
        final = db.emails()
        runs = db.runs()
        lost = sum(1 for a, b in zip(final, expected(original), strict=True) if a != b)
        report.add(
            "MariaDB stopped mid-run",
            result.exit_code,
            {75},
            lost=lost + broken,
            left_running=db.running(),
        )
        assert result.exit_code == 75, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines()[-1].startswith("CommandError: database error"), (
            result.stderr
        )
        assert broken == 0
        assert again.exit_code == 0, again.stderr
        assert final == expected(original)
        assert 0 < reached < ROWS
        assert [r["status"] for r in runs] in (["failed", "succeeded"], ["abandoned", "succeeded"])
        resumed = runs[-1]
        assert resumed["walk"]["resumed_after"] == reached
        assert resumed["counters"]["checked"] == sum(1 for pk, _ in original if pk > reached)


def wait_until_ready(server, times, timeout=120):
    """Until the server's log says ``ready`` for the ``times``-th time (a restart)."""
    deadline = time.monotonic() + timeout
    while server.logs().decode().count("start-mariadb: ready for connections") < times:
        assert time.monotonic() < deadline, server.logs().decode()[-3000:]
        time.sleep(0.2)


# -- migration gates (RequireJob) on MariaDB: DDL is not transactional, so the gate comes
# first in its migration and stops migrate before any of it ran (tests/gates has the test app
# and the PostgreSQL and SQLite cases).

GATE_APPS = {"DJANGO_EXTRA_APPS": "tests.testjobs,tests.gates"}


@pytest.fixture
def gate_database(server, image, docker_network):
    """A database of the test's own on the server, migrated but with tests.gates only up to
    0001 (the gate's dependency): the image and its client, and a query through the server."""
    name = f"gates_{uuid.uuid4().hex[:8]}"
    server[0].get_wrapped_container().exec_run(
        ["mariadb", "-e", f"CREATE DATABASE {name}; GRANT ALL ON {name}.* TO 'jobs'@'%'"]
    )
    runner = JobImage(image, docker_network.name, server[1].rsplit("/", 1)[0] + f"/{name}")
    migrated = runner.run("job", "migrate", "--noinput", env=GATE_APPS)
    assert migrated.exit_code == 0, migrated.stderr
    back = runner.run(
        "job",
        "migrate",
        "--noinput",
        "gates",
        "0001",
        env={**GATE_APPS, "JOB_ALLOW_DESTRUCTIVE": "1"},
    )
    assert back.exit_code == 0, back.stderr
    return runner, lambda sql: mariadb.query(server[0], sql, database=name)


def gate_schema(query):
    """Whether email_lower is nullable, and the gates app's applied migrations."""
    ((nullable,),) = query(
        "SELECT IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = 'gates_account' AND COLUMN_NAME = 'email_lower'"
    )
    applied = [
        name
        for (name,) in query("SELECT name FROM django_migrations WHERE app = 'gates' ORDER BY name")
    ]
    return nullable == "YES", applied


def seed_accounts(query, rows):
    query(
        "INSERT INTO gates_account (email) SELECT CONCAT('User', seq, '@Example.COM') "
        f"FROM seq_1_to_{rows}; ANALYZE TABLE gates_account"
    )


def test_a_gate_stops_migrate_with_75_then_a_small_rest_is_walked_inline(gate_database):
    runner, query = gate_database
    seed_accounts(query, 300)  # more than the gate's inline_below (100)
    stopped = runner.run("job", "migrate", "--noinput", env=GATE_APPS)
    assert stopped.exit_code == 75, stopped.stderr
    (line,) = [x for x in stopped.stderr.splitlines() if "waits for a backfill" in x]
    assert "lower_account_emails --batch-size 50: never run" in line, line
    assert "run `job lower_account_emails --batch-size 50`" in line, line
    assert gate_schema(query) == (True, ["0001_initial"])
    assert query("SELECT count(*) FROM gates_account WHERE email_lower IS NULL") == [["300"]]
    # The probe's record: blocked, 75 (MariaDB's migrations are not atomic: it stays).
    assert query("SELECT status, exit_code FROM batch_jobs_run") == [["blocked", "75"]]
    # With the limit above what is left, the gate walks it inline inside migrate.
    passed = runner.run(
        "job", "migrate", "--noinput", env={**GATE_APPS, "GATE_INLINE_BELOW": "1000"}
    )
    assert passed.exit_code == 0, passed.stderr
    assert gate_schema(query) == (False, ["0001_initial", "0002_require_lower_account_emails"])
    rows = query("SELECT status, walk FROM batch_jobs_run ORDER BY id")
    assert [status for status, _ in rows] == ["blocked", "succeeded"]
    assert json.loads(rows[1][1])["done"] is True


@full_only
def test_a_gate_passes_once_the_backfill_ran_in_the_image_and_a_fresh_database_migrates(
    gate_database,
):
    runner, query = gate_database
    seed_accounts(query, 300)
    backfill = runner.run("job", "lower_account_emails", "--batch-size", "100", env=GATE_APPS)
    assert backfill.exit_code == 0, backfill.stderr
    passed = runner.run("job", "migrate", "--noinput", env=GATE_APPS)
    assert passed.exit_code == 0, passed.stderr
    assert gate_schema(query)[0] is False
    assert [s for (s,) in query("SELECT status FROM batch_jobs_run")] == ["succeeded"]
