"""``migrate`` run as a process, as a deploy runs it, against a migration with a gate
(``RequireJob``): this app's 0002 waits for ``lower_account_emails`` and then makes
``email_lower`` NOT NULL. On PostgreSQL (a database of each test's own on the session's
server) and SQLite (a file); MariaDB's cases are in tests/reliability/test_mariadb.py."""

import sqlite3
import time
import uuid

import psycopg
import pytest

from tests.reliability.test_faults import signal_unless_done, wait_for_log
from tests.support.docker import JobImage, create_database, finish
from tests.support.reliability import full_only
from tests.support.scripts import run

GATED = "gates.0002_require_lower_account_emails"
LINE = f"migration {GATED} waits for a backfill: lower_account_emails --batch-size 50: never run"


def job(*words, database_url, **env):
    env = {"DJANGO_EXTRA_APPS": "tests.gates", **env}
    return run("job", *words, database_url=database_url, env=env)


def manage(*words, database_url, **env):
    env = {"DJANGO_EXTRA_APPS": "tests.gates", **env}
    return run("python", "manage.py", *words, database_url=database_url, env=env)


class Postgres:
    """A database of the test's own, copied from ``template`` (migrated up to the gate's
    dependency, once per module)."""

    def __init__(self, postgres, template):
        self.url = copy_database(postgres, template, f"gates_{uuid.uuid4().hex[:8]}")

    def query(self, sql, *params):
        with psycopg.connect(self.url, autocommit=True) as db:
            cursor = db.execute(sql, params)
            return cursor.fetchall() if cursor.description else None

    def seed(self, rows):
        self.query(
            "INSERT INTO gates_account (email) SELECT 'User' || i || '@Example.COM' "
            "FROM generate_series(1, %s) AS i",
            rows,
        )
        self.query("ANALYZE gates_account")

    def nullable(self):
        (row,) = self.query(
            "SELECT is_nullable FROM information_schema.columns "
            "WHERE table_name = 'gates_account' AND column_name = 'email_lower'"
        )
        return row[0] == "YES"

    def applied(self):
        rows = self.query("SELECT name FROM django_migrations WHERE app = 'gates'")
        return sorted(name for (name,) in rows)

    def runs(self):
        return self.query(
            "SELECT status, exit_code, walk->>'done', (walk->'counters'->>'changed')::int "
            "FROM batch_jobs_run WHERE job = 'lower_account_emails' ORDER BY id"
        )

    def unfilled(self):
        return self.query("SELECT count(*) FROM gates_account WHERE email_lower IS NULL")[0][0]


def copy_database(postgres, template, name):
    """A new database ``name`` on the session's server, a copy of ``template``: its URL."""
    host, port = postgres.get_container_host_ip(), postgres.get_exposed_port(5432)
    server = f"postgresql://{postgres.username}:{postgres.password}@{host}:{port}"
    with psycopg.connect(f"{server}/{postgres.dbname}", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return f"{server}/{name}"


@pytest.fixture(scope="module")
def template(postgres):
    """The database every test here copies: migrated, but gates only up to 0001; no row."""
    _, url = create_database(postgres, "gates_template")
    migrated = job("migrate", "--noinput", database_url=url)
    assert migrated.exit_code == 0, migrated.stderr
    unapplied = manage("migrate", "--noinput", "gates", "0001", database_url=url)
    assert unapplied.exit_code == 0, unapplied.stderr
    return "gates_template"


@pytest.fixture
def pg(postgres, template):
    return Postgres(postgres, template)


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "atomic", ["1", pytest.param("0", marks=full_only)], ids=["atomic", "non-atomic"]
)
def test_too_many_rows_stop_migrate_with_75_and_leave_the_schema(pg, atomic):
    pg.seed(300)  # more than the gate's inline_below (100)
    stopped = job("migrate", "--noinput", database_url=pg.url, GATE_ATOMIC=atomic)
    assert stopped.exit_code == 75, stopped.stderr
    (line,) = [x for x in stopped.stderr.splitlines() if "waits for a backfill" in x]
    assert LINE in line and "0 of ~300 rows" in line, line
    assert "run `job lower_account_emails --batch-size 50`" in line, line
    assert "Traceback" not in stopped.stderr
    assert pg.nullable() and pg.applied() == ["0001_initial"]
    assert pg.unfilled() == 300  # not one batch ran inside migrate
    # The backfill, as an operator runs it (another batch size: the same walk); then the gate
    # passes without running anything, and the constraint is applied.
    backfill = job("lower_account_emails", "--batch-size", "70", database_url=pg.url)
    assert backfill.exit_code == 0, backfill.stderr
    passed = manage("migrate", "--noinput", database_url=pg.url, GATE_ATOMIC=atomic)
    assert passed.exit_code == 0, passed.stderr
    assert not pg.nullable() and pg.applied() == [
        "0001_initial",
        "0002_require_lower_account_emails",
    ]
    runs = pg.runs()
    # A non-atomic migration's probe leaves its record (blocked, 75); an atomic one's rolls
    # back with the migration.
    assert runs[:-1] == ([] if atomic == "1" else [("blocked", 75, None, None)])
    assert runs[-1] == ("succeeded", 0, "true", 300)


@pytest.mark.postgresql
def test_a_small_table_is_backfilled_inline_and_migrate_succeeds(pg):
    pg.seed(40)
    migrated = job("migrate", "--noinput", database_url=pg.url)
    assert migrated.exit_code == 0, migrated.stderr
    assert not pg.nullable() and pg.unfilled() == 0
    assert pg.runs() == [("succeeded", 0, "true", 40)]  # the inline run's record
    # Reversing the migration passes through the gate: the column is nullable again.
    reversed_ = manage("migrate", "--noinput", "gates", "0001", database_url=pg.url)
    assert reversed_.exit_code == 0, reversed_.stderr
    assert pg.nullable() and pg.applied() == ["0001_initial"]


@full_only
@pytest.mark.postgresql
def test_an_interrupted_backfill_is_resumed_inline_when_little_is_left(pg):
    pg.seed(300)
    # A first run stopped after two batches of 50: 200 rows left, more than the gate's 100.
    stopped = job(
        "lower_account_emails",
        "--batch-size",
        "50",
        "--max-runtime",
        "1",
        "--throttle",
        "0.4",
        database_url=pg.url,
    )
    assert stopped.exit_code == 75, stopped.stderr
    blocked = job("migrate", "--noinput", database_url=pg.url, GATE_INLINE_BELOW="100")
    done = 300 - pg.unfilled()
    assert blocked.exit_code == 75, blocked.stderr
    ((run_id,),) = pg.query("SELECT id FROM batch_jobs_run WHERE status = 'interrupted'")
    assert f"interrupted, {done} of ~300 rows, run {run_id} interrupted" in blocked.stderr
    assert "resume it: `job lower_account_emails --batch-size 50`" in blocked.stderr
    # With more left to walk inline than is left, the gate resumes the walk inside migrate.
    passed = job("migrate", "--noinput", database_url=pg.url, GATE_INLINE_BELOW="1000")
    assert passed.exit_code == 0, passed.stderr
    assert not pg.nullable() and pg.unfilled() == 0
    statuses = [status for status, *_ in pg.runs()]
    assert statuses[0] == "interrupted" and statuses[-1] == "succeeded", statuses


@pytest.mark.postgresql
def test_plan_and_sqlmigrate_name_the_gate_and_run_nothing(pg):
    pg.seed(20)
    plan = manage("migrate", "--plan", database_url=pg.url)
    assert plan.exit_code == 0, plan.stderr
    assert "Require the backfill `lower_account_emails --batch-size 50` to have finished" in (
        plan.stdout
    )
    sql = manage("sqlmigrate", "gates", "0002", database_url=pg.url)
    assert sql.exit_code == 0, sql.stderr
    assert "-- Require the backfill `lower_account_emails --batch-size 50`" in sql.stdout
    assert "THIS OPERATION CANNOT BE WRITTEN AS SQL" in sql.stdout
    assert 'ALTER COLUMN "email_lower" SET NOT NULL' in sql.stdout
    assert pg.runs() == [] and pg.unfilled() == 20 and pg.nullable()


def test_on_sqlite_a_fresh_database_migrates_and_a_full_one_stops(tmp_path):
    path = tmp_path / "db.sqlite3"
    url = f"sqlite:///{path}"

    def query(sql, *params):
        with sqlite3.connect(path) as db:
            return db.execute(sql, params).fetchall()

    fresh = job("migrate", "--noinput", database_url=url)
    assert fresh.exit_code == 0, fresh.stderr  # an empty table: nothing to walk, no record
    assert "Applying gates.0002_require_lower_account_emails... OK" in fresh.stdout
    assert query("SELECT count(*) FROM batch_jobs_run") == [(0,)]
    back = manage("migrate", "--noinput", "gates", "0001", database_url=url)
    assert back.exit_code == 0, back.stderr
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO gates_account (email) VALUES (?)", [(f"A{i}@X",) for i in range(150)]
        )
    stopped = manage("migrate", "--noinput", database_url=url)
    assert stopped.exit_code == 75, stopped.stderr
    assert f"{LINE}, more than 100 rows left;" in stopped.stderr, stopped.stderr
    inline = manage("migrate", "--noinput", database_url=url, GATE_INLINE_BELOW="200")
    assert inline.exit_code == 0, inline.stderr
    (run,) = query(
        "SELECT job, status, json_extract(walk, '$.counters.changed') FROM batch_jobs_run"
    )
    assert run == ("lower_account_emails", "succeeded", 150)
    assert query("SELECT count(*) FROM gates_account WHERE email_lower IS NULL") == [(0,)]


@full_only
@pytest.mark.image
@pytest.mark.postgresql
def test_the_backfill_in_the_image_stopped_by_sigterm_and_resumed_then_migrate_applies(
    pg, postgres, image, docker_network
):
    """Deploy 2 as a cluster runs it: the backfill in the image, stopped once (a pod
    evicted), its rerun resuming; then deploy 3's migrate passes the gate and applies the
    constraint."""
    pg.seed(2000)
    name = pg.url.rsplit("/", 1)[1]
    inside = f"postgres://{postgres.username}:{postgres.password}@db:5432/{name}"
    runner = JobImage(image, docker_network.name, inside)
    apps = {"DJANGO_EXTRA_APPS": "tests.testjobs,tests.gates"}
    walk = ["job", "lower_account_emails", "--batch-size", "50", "--throttle", "0.05"]
    container = runner.start(*walk, env=apps)
    wait_for_log(container, '"event": "start"')
    time.sleep(0.5)
    signal_unless_done(container, "SIGTERM")
    stopped = finish(container)
    assert stopped.exit_code == 143, stopped.stderr
    walked = 2000 - pg.unfilled()
    assert 0 < walked < 2000
    blocked = job("migrate", "--noinput", database_url=pg.url)
    assert blocked.exit_code == 75, blocked.stderr
    assert f"lower_account_emails --batch-size 50: interrupted, {walked} of ~2000" in (
        blocked.stderr
    )
    resumed = runner.run(*walk, env=apps)
    assert resumed.exit_code == 0, resumed.stderr
    assert '"event": "resume"' in resumed.stderr
    migrated = job("migrate", "--noinput", database_url=pg.url)
    assert migrated.exit_code == 0, migrated.stderr
    assert not pg.nullable() and pg.unfilled() == 0
    assert [status for status, *_ in pg.runs()] == ["interrupted", "succeeded"]
