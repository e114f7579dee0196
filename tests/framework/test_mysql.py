"""MariaDB, first-class (the MariaDB lane only): the GET_LOCK overlap lock, the write path,
balanced shard plans, the timeout retry's errors, the exit-code contract of its errors, the
deadline's cut, a stop signal's KILL QUERY and replica lag read on a real replica."""

import datetime
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from django.db import OperationalError, connection, connections, transaction
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.store.models import Customer, DailyStat
from batch_jobs import update_rows
from batch_jobs.backends import backend_for, base
from batch_jobs.backends.mysql import LOCK_NAME_LENGTH, error_number, lock_name
from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.outcome import outcome_of
from batch_jobs.models import JobRun
from batch_jobs.testing import run_job
from tests.support.locks import hold_lock, lock_is_free
from tests.support.reliability import cases
from tests.support.sessions import database_url, open_session
from tests.support.waits import wait_for
from tests.testjobs.models import Item

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True, databases="__all__")]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCK_KEY = "django-jobs:slow_batches"
PROPERTIES = hypothesis_settings(
    max_examples=cases(200, 25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def job(*args, **env):
    """``job ARGS`` in a process of its own, on the test database unless ``env`` says else."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "JOB_LOG_FORMAT": "text",
        **env,
    }
    return subprocess.run(
        [BIN / "job", *args], capture_output=True, text=True, env=environment, cwd=ROOT
    )


def with_url(**parts):
    """The test database's URL with some of its parts changed."""
    url = urllib.parse.urlsplit(database_url())
    user = parts.get("user", url.username)
    password = parts.get("password", url.password)
    host, port = parts.get("host", url.hostname), parts.get("port", url.port)
    path = "/" + parts.get("name", url.path.lstrip("/"))
    return urllib.parse.urlunsplit(
        (url.scheme, f"{user}:{password}@{host}:{port}", path, url.query, "")
    )


# -- the overlap lock --------------------------------------------------------------------------


def test_a_lock_held_by_another_session_is_75_and_freed_when_that_session_dies(other_session):
    hold_lock(other_session, LOCK_KEY)
    result = run_job("slow_batches", batches=1, sleep=0)
    assert result.exit_code == 75
    assert JobRun.objects.get(status="blocked").exit_code == 75
    with connection.cursor() as cursor:  # the holder's session killed, as a crashed pod's
        cursor.execute(f"KILL CONNECTION {int(other_session.raw.thread_id())}")
    assert lock_is_free(open_session(), LOCK_KEY)
    assert run_job("slow_batches", batches=1, size=2, sleep=0).exit_code == 0
    assert Item.objects.count() == 2


def test_the_lock_is_taken_on_the_control_connection_and_released_after_the_run():
    seen = {}

    def look():
        with open_session() as other:
            name = lock_name(connection.settings_dict["NAME"], LOCK_KEY)
            seen["holder"] = other.execute("SELECT IS_USED_LOCK(%s)", [name]).fetchone()[0]

    timer = threading.Timer(0.5, look)
    timer.start()
    assert run_job("slow_batches", batches=2, size=1, sleep=0.6).exit_code == 0
    timer.join()
    assert seen["holder"] is not None
    assert seen["holder"] != connection.connection.thread_id()  # not the job's own session
    assert lock_is_free(open_session(), LOCK_KEY, timeout=0.1)


def test_lock_names_fit_get_lock_and_differ_per_database(other_session):
    names = {lock_name(db, LOCK_KEY) for db in ("jobs", "jobs_b", "a" * 64)}
    assert len(names) == 3
    assert all(len(name) <= LOCK_NAME_LENGTH for name in names)
    # The same job's lock on another database of the same server does not block this one.
    other_session.execute("SELECT GET_LOCK(%s, 0)", [lock_name("another_database", LOCK_KEY)])
    assert run_job("slow_batches", batches=1, sleep=0).exit_code == 0


# -- the write path ----------------------------------------------------------------------------

# Any text utf8mb4 holds, with what SQL literals and mysqlclient's formatting treat specially.
TEXT = st.lists(
    st.characters(exclude_categories=["Cs"])
    | st.sampled_from(["\x00", "\\", "'", '"', "%s", "%", "\n", "\r", "\x1a", "😀", "é"]),
    max_size=20,
).map("".join)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


@PROPERTIES
@given(
    rows=st.lists(
        st.tuples(
            TEXT,
            st.none() | TEXT,
            JSON.filter(lambda value: value is not None),
            st.none() | st.integers(-32768, 32767),
            st.booleans(),
            st.none()
            | st.datetimes(
                min_value=datetime.datetime(1970, 1, 2),
                max_value=datetime.datetime(2037, 1, 1),
                timezones=st.just(datetime.UTC),
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
@example(rows=[("\x00'\\%s", None, {"k\x00": ["'", None]}, None, True, None)])
def test_update_rows_round_trips_any_values_through_a_multi_row_insert(rows):
    runs = JobRun.objects.bulk_create(JobRun(job="round_trip") for _ in rows)
    fields = ["job", "host", "counters", "exit_code", "dry_run", "finished_at"]
    # TIMESTAMP-free DATETIME(6) holds microseconds; host is NOT NULL: "" stands for None.
    keyed = [(r.pk, *row[:1], row[1] or "", *row[2:]) for r, row in zip(runs, rows, strict=True)]
    assert update_rows(JobRun, fields, keyed) == len(rows)
    written = JobRun.objects.filter(pk__in=[r.pk for r in runs]).order_by("pk")
    assert list(written.values_list("pk", *fields)) == keyed


def test_update_rows_is_rolled_back_with_its_transaction():
    stats = DailyStat.objects.bulk_create(
        DailyStat(date=datetime.date(2020, 1, 1 + i), order_count=i) for i in range(3)
    )
    with transaction.atomic():
        assert update_rows(DailyStat, ["order_count"], [(s.pk, 99) for s in stats]) == 3
        # The second call drops and re-creates the staging table after the first's UPDATE:
        # temporary-table DDL must not commit it.
        assert update_rows(DailyStat, ["order_count"], [(stats[0].pk, 98)]) == 1
        transaction.set_rollback(True)  # as a dry run's batch
    assert sorted(DailyStat.objects.values_list("order_count", flat=True)) == [0, 1, 2]


def staging_engines():
    """The engine of each staging table this session holds (MariaDB 11.2+ lists a session's
    temporary tables in information_schema.TABLES)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES "
            "WHERE TABLE_TYPE = 'TEMPORARY' AND TABLE_NAME LIKE 'batch\\_jobs\\_rows\\_%%'"
        )
        return dict(cursor.fetchall())


def drop_staging():
    """Drop this session's staging tables, so that the next call's is the only one."""
    with connection.cursor() as cursor:
        for name in staging_engines():
            cursor.execute(f"DROP TEMPORARY TABLE {connection.ops.quote_name(name)}")


@PROPERTIES
@given(
    rows=st.lists(
        st.tuples(TEXT | st.just(" trailing  "), TEXT.map(lambda text: text + " ")),
        min_size=1,
        max_size=12,
    )
)
def test_update_rows_round_trips_text_through_a_staging_table_in_memory(rows):
    customers = Customer.objects.bulk_create(Customer(email="x") for _ in rows)
    keyed = [(c.pk, *row) for c, row in zip(customers, rows, strict=True)]
    drop_staging()
    assert update_rows(Customer, ["email", "name"], keyed) == len(rows)
    # MEMORY stores VARCHARs in fixed-width rows: trailing spaces and NULs still come back.
    assert list(staging_engines().values()) == ["MEMORY"]
    written = Customer.objects.filter(pk__in=[c.pk for c in customers]).order_by("pk")
    assert list(written.values_list("pk", "email", "name")) == keyed


def test_rows_more_than_a_memory_table_holds_go_to_the_default_engine():
    stats = DailyStat.objects.bulk_create(
        DailyStat(date=datetime.date(2000, 1, 1) + datetime.timedelta(days=i), order_count=0)
        for i in range(3000)
    )
    rows = [(s.pk, 7, s.pk) for s in stats]
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION max_heap_table_size = 16384")  # the server's least
    drop_staging()
    try:
        with transaction.atomic():
            assert update_rows(DailyStat, ["order_count", "total_amount"], rows) == len(rows)
            assert list(staging_engines().values()) == ["InnoDB"]
            assert update_rows(DailyStat, ["order_count", "total_amount"], rows[:5]) == 5
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION max_heap_table_size = DEFAULT")
    written = DailyStat.objects.values_list("pk", "order_count", "total_amount").order_by("pk")
    assert list(written) == rows


# -- shard plans and estimates -----------------------------------------------------------------


@PROPERTIES
@given(
    keys=st.sets(st.integers(1, 10**6), min_size=1, max_size=60),
    fractions=st.lists(st.floats(0.001, 0.999), min_size=1, max_size=7),
)
def test_window_quantiles_pick_the_keys_of_the_generic_plan(keys, fractions):
    Item.objects.all().delete()
    Item.objects.bulk_create(Item(pk=k, name="q") for k in keys)
    ordered = Item.objects.order_by().values_list("pk", flat=True)
    mine = backend_for(connection).key_quantiles(ordered, "pk", fractions)
    assert mine == base.DatabaseBackend(connection).key_quantiles(ordered, "pk", fractions)


def test_a_table_has_an_estimate_of_its_rows():
    Item.objects.bulk_create(Item(name=f"e{i}") for i in range(300))
    estimate = backend_for(connection).estimated_rows(Item.objects.all())
    assert estimate is not None and 100 <= estimate <= 1000, estimate


# -- errors and the exit-code contract ---------------------------------------------------------


def test_a_lock_wait_timeout_is_a_timeout_and_75(other_session):
    item = Item.objects.create(name="held")
    other_session.execute("BEGIN")
    other_session.execute("SELECT id FROM testjobs_item WHERE id = %s FOR UPDATE", [item.pk])
    try:
        with (
            pytest.raises(OperationalError) as raised,
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
            cursor.execute("UPDATE testjobs_item SET name = 'x' WHERE id = %s", [item.pk])
    finally:
        other_session.execute("ROLLBACK")
    assert backend_for(connection).timed_out(raised.value)
    assert outcome_of(raised.value).exit_code == ExitCode.TEMPORARY


LOCK_WAITS = "SELECT count(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'"


def test_a_deadlock_is_75(other_session):
    first, second = Item.objects.bulk_create([Item(name="first"), Item(name="second")])
    update = "UPDATE testjobs_item SET name = 'changed' WHERE id = %s"
    other_errors = []

    def other_takes_the_first():
        try:
            other_session.execute(update, [first.pk])  # waits for this test's session
        except Exception as exc:
            other_errors.append(exc)

    other_session.execute("BEGIN")
    other_session.execute(update, [second.pk])
    other = threading.Thread(target=other_takes_the_first)
    mine = None
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(update, [first.pk])
            other.start()
            with open_session() as watcher:
                wait_for(lambda: watcher.execute(LOCK_WAITS).fetchone()[0], "the other to wait")
            cursor.execute(update, [second.pk])  # each waits for the other: InnoDB picks one
    except OperationalError as exc:
        mine = exc
    other.join()
    other_session.execute("ROLLBACK")
    (victim,) = [e for e in [mine, *other_errors] if e is not None]
    assert error_number(victim) == 1213, victim
    assert outcome_of(victim).exit_code == ExitCode.TEMPORARY


def test_a_statement_timeout_is_75_and_the_walk_retries_it():
    result = run_job("db_timeout", "statement")
    assert result.exit_code == 75
    assert backend_for(connection).timed_out(result.exception)
    assert "max_statement_time exceeded" in JobRun.objects.get(job="db_timeout").error


def test_a_lost_connection_is_75():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    thread = connection.connection.thread_id()
    with open_session() as other:
        other.execute(f"KILL CONNECTION {int(thread)}")
    with pytest.raises(OperationalError) as raised, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close()
    assert outcome_of(raised.value).exit_code == ExitCode.TEMPORARY, raised.value


def test_a_read_only_session_is_78_saying_so():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION READ ONLY")  # for this transaction, as on a replica
        result = run_job("echo_args", "x")
    assert result.exit_code == ExitCode.CONFIG
    assert "Cannot execute statement in a READ ONLY transaction" in str(result.exception)
    assert "the database is read-only here" in str(result.exception)


def test_a_missing_privilege_is_78_saying_which(other_session):
    name = connection.settings_dict["NAME"]
    other_session.execute("CREATE USER IF NOT EXISTS 'job_reader'@'%' IDENTIFIED BY 'reader'")
    try:
        try:
            other_session.execute(f"GRANT SELECT ON `{name}`.* TO 'job_reader'@'%'")
        except Exception as exc:  # a test image from before its user could grant
            pytest.skip(f"the test user cannot grant: {exc}")
        result = job("echo_args", "x", DATABASE_URL=with_url(user="job_reader", password="reader"))
    finally:
        other_session.execute("DROP USER 'job_reader'@'%'")
    assert result.returncode == 78, result.stderr
    assert "INSERT command denied" in result.stderr
    assert "grant this database user SELECT, INSERT and UPDATE" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("parts", "code", "says"),
    [
        ({"password": "wrong"}, 78, "Access denied"),
        ({"name": "no_such_database"}, 78, "Unknown database"),
        ({"host": "127.0.0.1", "port": 1}, 69, "database unreachable"),
    ],
)
def test_connect_failures_follow_the_contract(parts, code, says):
    result = job("echo_args", "x", DATABASE_URL=with_url(**parts), JOB_DB_WAIT_SECONDS="1")
    assert result.returncode == code, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_without_the_tables_is_78_naming_migrate(other_session):
    other_session.execute("CREATE DATABASE IF NOT EXISTS batch_jobs_empty")
    try:
        result = job("echo_args", "x", DATABASE_URL=with_url(name="batch_jobs_empty"))
    finally:
        other_session.execute("DROP DATABASE batch_jobs_empty")
    assert result.returncode == 78, result.stderr
    assert "apply the migrations: `python manage.py migrate`" in result.stderr


# -- the deadline and a stop signal ------------------------------------------------------------


def test_the_deadline_cuts_a_statement_that_gets_no_answer(settings):
    settings.JOB_DB_TIMEOUT = 1
    result = run_job("db_timeout", "sleep")
    assert result.exit_code == 75, result.stderr
    assert "no answer from the database within 1s (JOB_DB_TIMEOUT)" in str(result.exception)
    # Cut, not waited for: the statement itself failed, as a lost connection.
    assert error_number(result.exception) == 2013, repr(result.exception.__cause__)


def test_a_stop_signal_kills_the_running_query_at_once():
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
    }
    sleeping = "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(60)'"
    with open_session() as session:
        # A statement cut by an earlier test may still sleep on the server: not this one.
        earlier = {row[0] for row in session.execute(sleeping).fetchall()}
        process = subprocess.Popen(
            [BIN / "job", "db_timeout", "sleep"],
            env=environment,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        with open_session() as session:
            deadline = time.monotonic() + 30
            while process.poll() is None and time.monotonic() < deadline:
                if {row[0] for row in session.execute(sleeping).fetchall()} - earlier:
                    break
                time.sleep(0.1)
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)  # far less than the minute
    finally:
        process.kill()
    assert process.returncode == 143, stderr
    record = JobRun.objects.get(job="db_timeout")
    assert (record.status, record.exit_code) == ("interrupted", 143)


# -- replica lag, read on a real replica -------------------------------------------------------

REPLICA_URL = os.environ.get("TEST_REPLICA_URL", "")


@pytest.fixture
def replica(settings):
    """The lane's replica as the alias "replica", named in JOB_REPLICA_DATABASES; its
    replication running again after the test."""
    if not REPLICA_URL:
        pytest.skip("no replica (TEST_REPLICA_URL)")
    url = urllib.parse.urlsplit(REPLICA_URL)
    replica_settings = {
        **connection.settings_dict,
        "HOST": url.hostname,
        "PORT": str(url.port or 3306),
        "TEST": {"MIRROR": "default"},
    }
    settings.DATABASES = {**settings.DATABASES, "replica": replica_settings}
    connections["replica"] = type(connections["default"])(replica_settings, "replica")
    settings.JOB_REPLICA_DATABASES = ["replica"]
    yield connections["replica"]
    with connections["replica"].cursor() as cursor:
        cursor.execute("STOP REPLICA")
        cursor.execute("CHANGE MASTER TO MASTER_DELAY = 0")
        cursor.execute("START REPLICA")
    connections["replica"].close()
    del connections["replica"]


def lag_becomes(test, timeout=60):
    backend = backend_for(connection)
    deadline = time.monotonic() + timeout
    while True:
        lag = backend.replica_lag()
        if test(lag) or time.monotonic() > deadline:
            return lag
        time.sleep(0.2)


def test_a_running_replica_has_its_lag_and_a_stopped_one_holds_the_walk(replica):
    assert lag_becomes(lambda lag: lag < 5) < 5  # caught up
    with replica.cursor() as cursor:
        cursor.execute("STOP REPLICA SQL_THREAD")
    assert backend_for(connection).replica_lag() == math.inf
    Item.objects.bulk_create(Item(name=f"r{i}") for i in range(3))
    result = run_job("upper_items", "--max-lag", "5", "--max-health-wait", "1")
    assert result.exit_code == 75
    assert "replica lag inf" in str(result.exception)
    with replica.cursor() as cursor:
        cursor.execute("START REPLICA SQL_THREAD")
    assert lag_becomes(lambda lag: lag < 5) < 5


def test_a_delayed_replica_lags_by_its_delay(replica):
    with replica.cursor() as cursor:
        cursor.execute("STOP REPLICA")
        cursor.execute("CHANGE MASTER TO MASTER_DELAY = 30")
        cursor.execute("START REPLICA")
    Item.objects.create(name="written on the primary")
    assert lag_becomes(lambda lag: lag >= 2, timeout=20) >= 2


def test_max_lag_without_replicas_named_says_it_reads_no_lag():
    Item.objects.bulk_create(Item(name=f"r{i}") for i in range(3))
    result = run_job("upper_items", "--max-lag", "5")
    assert result.exit_code == 0
    assert "--max-lag reads no lag" in result.stderr
    assert "JOB_REPLICA_DATABASES" in result.stderr
