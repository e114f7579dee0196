"""Every driver, one database interface: update_rows round-trips every kind of value through
the driver in use (psycopg 3, psycopg 2, mysqlclient or SQLite, one per lane), psycopg 2's COPY text
round-trips whatever the lane, nothing imports a driver it does not use, and a database of
another vendor gets the generic fallbacks with a system check that says what degrades."""

import datetime
import decimal
import io
import subprocess
import sys
import uuid

import pytest
from django.conf import settings as django_settings
from django.core import checks
from django.db import DatabaseError, connection, connections
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.store.models import DailyStat
from batch_jobs import update_rows
from batch_jobs.backends import backend_for, base
from batch_jobs.checks import DEGRADED_DATABASE, check_databases
from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.outcome import outcome_of
from batch_jobs.models import JobRun
from tests.support.docker import ROOT
from tests.support.sessions import open_session
from tests.testjobs.models import Item

# Text PostgreSQL can hold (no NUL), COPY's special characters common (so "\\N" and "\\."
# come up too), and those of array literals.
TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
    | st.sampled_from(["\\", "\t", "\n", "\r", "N", ".", "é", "€", "😀", '"', ",", "{", "}"]),
    max_size=40,
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
MOMENTS = st.datetimes(
    min_value=datetime.datetime(1900, 1, 1),
    max_value=datetime.datetime(2200, 1, 1),
    timezones=st.just(datetime.UTC),
)
DURATIONS = st.timedeltas(
    min_value=datetime.timedelta(days=-100_000), max_value=datetime.timedelta(days=100_000)
)
AMOUNTS = st.decimals(
    min_value=-(10**11), max_value=10**11, places=2, allow_nan=False, allow_infinity=False
)
LATER = datetime.date(1000, 1, 1)
ROUND_TRIPS = hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.django_db
@ROUND_TRIPS
@given(
    error=TEXT,
    host=TEXT,
    # Not None itself: update_rows gives it to JSONField.get_db_prep_value, so COPY writes
    # JSON null where bulk_update (and save()) write SQL NULL, which counters refuses.
    counters=JSON.filter(lambda value: value is not None),
    exit_code=st.none() | st.integers(-32768, 32767),
    dry_run=st.booleans(),
    finished_at=st.none() | MOMENTS,
    duration=st.none() | DURATIONS,
)
@example(
    error="tab\there\nnew line\r\nback\\slash \\N \\. NULL",
    host="\\N",
    counters={"k\t": ["\\", None, "é€😀"]},
    exit_code=None,
    dry_run=True,
    finished_at=None,
    duration=None,
)
def test_update_rows_writes_any_value_as_given(
    error, host, counters, exit_code, dry_run, finished_at, duration
):
    run = JobRun.objects.create(job="round_trip")
    fields = ["error", "host", "counters", "exit_code", "dry_run", "finished_at", "duration"]
    values = (error, host, counters, exit_code, dry_run, finished_at, duration)
    assert update_rows(JobRun, fields, [(run.pk, *values)]) == 1
    written = JobRun.objects.values_list(*fields).get(pk=run.pk)
    assert written == values


@pytest.mark.django_db
@ROUND_TRIPS
@given(
    rows=st.lists(
        st.tuples(
            st.dates(min_value=datetime.date(1000, 1, 1)), st.integers(0, 2**31 - 1), AMOUNTS
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda row: row[0],
    )
)
def test_update_rows_writes_dates_and_decimals_of_many_rows(rows):
    DailyStat.objects.all().delete()
    stats = DailyStat.objects.bulk_create(  # dates apart from the new ones, which are unique
        DailyStat(date=datetime.date(1, 1, 1) + datetime.timedelta(days=i))
        for i in range(len(rows))
    )
    keyed = [(stat.pk, *row) for stat, row in zip(stats, rows, strict=True)]
    fields = ["date", "order_count", "total_amount"]
    assert update_rows(DailyStat, fields, keyed) == len(rows)
    assert list(DailyStat.objects.order_by("pk").values_list("pk", *fields)) == keyed


# -- psycopg 2's COPY text, whatever driver Django uses in this lane -------------------------

COLUMNS = {
    "t": "text",
    "i": "bigint",
    "b": "boolean",
    "n": "numeric",
    "d": "date",
    "ts": "timestamptz",
    "iv": "interval",
    "j": "jsonb",
    "u": "uuid",
    "by": "bytea",
    "a": "text[]",
    "r": "int4range",
}


@pytest.mark.postgresql
@pytest.mark.django_db
@ROUND_TRIPS
@given(
    text=st.none() | TEXT,
    number=st.none() | st.integers(-(2**63), 2**63 - 1),
    flag=st.none() | st.booleans(),
    amount=st.none() | AMOUNTS,
    day=st.none() | st.dates(),
    moment=st.none() | MOMENTS,
    duration=st.none() | DURATIONS,
    document=JSON,
    key=st.none() | st.uuids(),
    raw=st.none() | st.binary(max_size=20),
    texts=st.none() | st.lists(st.none() | TEXT, max_size=4),
    bounds=st.tuples(st.integers(-1000, 1000), st.integers(0, 1000)),
)
def test_copy_text_round_trips_through_psycopg_2(
    text, number, flag, amount, day, moment, duration, document, key, raw, texts, bounds
):
    psycopg2 = pytest.importorskip("psycopg2")
    from psycopg2.extras import Json, NumericRange

    from batch_jobs.backends.postgresql import copy_text

    lower, length = bounds
    span = NumericRange(lower, lower + length, "[)")
    row = [text, number, flag, amount, day, moment, duration, Json(document), key, raw, texts]
    with open_session(connection, driver=psycopg2) as session:
        psycopg2.extras.register_uuid(conn_or_curs=session.raw)
        session.execute("SET TIME ZONE 'UTC'")
        typed = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        session.execute(f"CREATE TEMPORARY TABLE copied ({typed})")
        cursor = session.raw.cursor()
        cursor.copy_expert(
            f"COPY copied ({', '.join(COLUMNS)}) FROM STDIN",
            io.StringIO(copy_text([[*row, span]])),
        )
        got = session.execute(f"SELECT {', '.join(COLUMNS)} FROM copied").fetchall()
    expected = [*row[:7], document, key, raw, texts]
    (found,) = got
    found = list(found)
    found[9] = bytes(found[9]) if found[9] is not None else None
    assert found[:11] == expected
    assert (found[11].lower, found[11].upper) == (
        (lower, lower + length) if length else (None, None)
    )


@pytest.mark.postgresql
@pytest.mark.django_db
def test_copy_text_writes_what_django_hands_psycopg_2():
    """Django's preparation gives psycopg 2 ``Inet`` for addresses, and choices are str and
    int subclasses: each is written as PostgreSQL reads its type."""
    psycopg2 = pytest.importorskip("psycopg2")
    from django.db import models
    from psycopg2.extras import Inet

    from batch_jobs.backends.postgresql import copy_text

    class Colour(models.TextChoices):
        RED = "r\tx", "Red"

    class Size(models.IntegerChoices):
        BIG = 3, "Big"

    with open_session(connection, driver=psycopg2) as session:
        session.execute("CREATE TEMPORARY TABLE copied (a inet, c text, s int, f float8)")
        session.raw.cursor().copy_expert(
            "COPY copied FROM STDIN",
            io.StringIO(copy_text([(Inet("10.1.2.3/32"), Colour.RED, Size.BIG, 1e300)])),
        )
        found = session.execute("SELECT host(a), c, s, f FROM copied").fetchone()
    assert found == ("10.1.2.3", "r\tx", 3, 1e300)


def test_copy_text_escapes_what_copy_reads_specially():
    pytest.importorskip("django.db.backends.postgresql.psycopg_any")
    from batch_jobs.backends.postgresql import copy_text

    rows = [(1, "a\tb\nc\rd\\e", None, True, "\\N"), (2, "", 1.5, False, "x")]
    assert copy_text(rows) == "1\ta\\tb\\nc\\rd\\\\e\t\\N\tt\t\\\\N\n2\t\t1.5\tf\tx\n"


# -- no driver but the one in use ------------------------------------------------------------

NO_DRIVER = """
import importlib, pkgutil, sys
sys.modules["psycopg"] = sys.modules["psycopg2"] = None  # an import of either fails
import django
django.setup()
import batch_jobs
for module in pkgutil.walk_packages(batch_jobs.__path__, "batch_jobs."):
    if module.name != "batch_jobs.backends.postgresql":
        importlib.import_module(module.name)
from django.core.management import call_command
call_command("check")
call_command("migrate", verbosity=0)
call_command("echo_args", "hello")
drivers = ("psycopg", "psycopg2", "psycopg_binary", "psycopg_c")
print(sorted(n for n, m in sys.modules.items() if m and n.split(".")[0] in drivers))
"""


def test_a_sqlite_project_imports_no_postgresql_driver(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "app.settings",
        "DJANGO_EXTRA_APPS": "tests.testjobs",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "JOB_LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        [sys.executable, "-c", NO_DRIVER], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


# -- a database of another vendor ------------------------------------------------------------


@pytest.fixture
def other_vendor(monkeypatch, settings):
    """An alias "other" whose backend is neither PostgreSQL nor SQLite, as the control
    database."""
    database = {**connection.settings_dict, "ENGINE": "tests.support.otherdb", "NAME": ":memory:"}
    monkeypatch.setitem(django_settings.DATABASES, "other", database)
    settings.JOB_CONTROL_DATABASE = "other"
    yield connections["other"]
    connections["other"].close()
    del connections["other"]


def test_another_vendor_gets_a_warning_naming_what_degrades(other_vendor):
    (warning,) = check_databases()
    assert warning.id == DEGRADED_DATABASE == "batch_jobs.W002"
    assert warning.level == checks.WARNING
    assert warning.msg.startswith(
        "DATABASES['other'] is OtherDB (tests.support.otherdb), which batch_jobs supports "
        "with generic fallbacks only: the overlap lock is a file lock, so it holds on one "
        "machine only; update_rows writes with bulk_update"
    )
    for degraded in base.DatabaseBackend.degraded:
        assert degraded in warning.msg
    assert DEGRADED_DATABASE in [m.id for m in checks.run_checks(tags=["batch_jobs"])]


def test_postgresql_and_sqlite_get_no_warning():
    assert check_databases() == []


def test_another_vendor_gets_the_generic_fallbacks(other_vendor):
    backend = backend_for(other_vendor)
    assert type(backend) is base.DatabaseBackend
    assert backend is backend_for("other")  # chosen once per connection
    assert not backend.separate_control_connection and not backend.has_health
    assert isinstance(backend.lock("k"), base.FileLock)
    assert backend.estimated_rows(JobRun.objects.using("other")) is None
    assert backend.timed_out(Exception("canceling statement due to statement timeout")) is False
    assert backend.cut() is False


def test_the_fallback_quantiles_are_those_of_percentile_disc(db):
    """The generic plan picks the keys PostgreSQL's percentile_disc picks."""
    JobRun.objects.bulk_create(JobRun(job=f"q{i}") for i in range(10))
    keys = JobRun.objects.order_by().values_list("pk", flat=True)
    pks = sorted(keys)
    fractions = [0.25, 0.3, 0.5, 0.75]
    picked = base.DatabaseBackend(connection).key_quantiles(keys, "pk", fractions)
    # percentile_disc(f): the first key whose cumulative share reaches f.
    assert picked == [pks[2], pks[2], pks[4], pks[7]]
    assert backend_for(connection).key_quantiles(keys, "pk", fractions) == picked


def test_a_sql_error_is_a_bug_on_every_backend(db):
    with pytest.raises(DatabaseError) as raised, connection.cursor() as cursor:
        cursor.execute("SELECT no_such_column FROM batch_jobs_run")
    outcome = outcome_of(raised.value)
    # On SQLite an OperationalError, yet not transient.
    assert outcome.exit_code == ExitCode.BUG, outcome
    assert "no_such_column" in outcome.reason


def test_a_missing_table_is_a_step_not_taken_on_every_backend(db):
    with pytest.raises(DatabaseError) as raised, connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    outcome = outcome_of(raised.value)
    assert outcome.exit_code == ExitCode.CONFIG, outcome
    assert "no_such_table" in outcome.reason and "python manage.py migrate" in outcome.reason


def test_uuid_and_decimal_are_plain_text_in_copy():
    pytest.importorskip("django.db.backends.postgresql.psycopg_any")
    from batch_jobs.backends.postgresql import copy_text

    key = uuid.UUID(int=1)
    assert copy_text([(key, decimal.Decimal("-1.50"))]) == f"{key}\t-1.50\n"


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_table_never_analyzed_still_has_an_estimate(monkeypatch):
    """A walk over a table just loaded (no VACUUM or ANALYZE yet: reltuples is -1) shows a
    total: counted when the table is small, from a sample of its pages when it is not."""
    Item.objects.bulk_create(Item(name=f"item-{i}", batch="") for i in range(20_000))
    table = connection.ops.quote_name(Item._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [table])
        assert cursor.fetchone()[0] <= 0  # never analyzed
    from batch_jobs.backends import postgresql  # imports the driver: not in the SQLite lane

    backend = backend_for(connection)
    assert backend.estimated_rows(Item.objects.all()) == 20_000
    monkeypatch.setattr(postgresql, "SAMPLED_PAGES", 20)  # the table has ~120 pages
    assert 20_000 / 2 < backend.estimated_rows(Item.objects.all()) < 20_000 * 2


def test_file_locks_of_two_sqlite_databases_do_not_meet(tmp_path):
    """Two projects on one machine (two SQLite files) each take their job's lock; two runs on
    the same file still exclude each other."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    def wrapper(name):
        settings = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / name)}
        return DatabaseWrapper(connections.configure_settings({"default": settings})["default"])

    (tmp_path / "a.sqlite3").touch()
    (tmp_path / "link.sqlite3").symlink_to(tmp_path / "a.sqlite3")  # another route to a
    first, other = wrapper("a.sqlite3"), wrapper("b.sqlite3")
    held = backend_for(first).lock("django-jobs:cleanup_tokens")
    elsewhere = backend_for(other).lock("django-jobs:cleanup_tokens")
    assert held.acquire()
    try:
        assert elsewhere.acquire()
        for same in (wrapper("a.sqlite3"), wrapper("link.sqlite3")):
            assert not backend_for(same).lock("django-jobs:cleanup_tokens").acquire()
    finally:
        held.release()
        elsewhere.release()
