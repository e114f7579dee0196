"""normalize_emails: every strategy agrees with SQL, streams, resumes, and is idempotent."""

import tracemalloc

import psycopg
import pytest
from django.db import connection

from app.store.models import Customer
from batch_jobs.models import JobCheckpoint, JobRun
from batch_jobs.testing import process_batch, run_job

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

STRATEGIES = ["python", "set", "iterator"]


def seed(n):
    """n customers, every other one needing normalisation, in a shuffled key order."""
    Customer.objects.bulk_create(
        Customer(email=f"  User{i}@Example.COM " if i % 2 else f"user{i}@example.com")
        for i in range(n)
    )


def expected_emails():
    """The independent computation: what PostgreSQL itself makes of every address."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, lower(btrim(email)) FROM store_customer ORDER BY id")
        return cursor.fetchall()


def emails():
    return list(Customer.objects.order_by("pk").values_list("pk", "email"))


def normalize(*args):
    result = run_job("normalize_emails", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_result_equals_sql_and_a_rerun_changes_nothing(strategy):
    seed(1000)
    expected = expected_emails()
    out = normalize("--strategy", strategy, "--batch-size", "128")
    assert out == "checked 1000 / changed 500 (commit)\n"
    assert emails() == expected
    assert normalize("--strategy", strategy) == "checked 1000 / changed 0 (commit)\n"
    assert JobCheckpoint.objects.count() == 0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_dry_run_counts_and_writes_nothing(strategy):
    seed(300)
    before = emails()
    assert normalize("--strategy", strategy, "--dry-run", "--batch-size", "64") == (
        "checked 300 / changed 150 (dry)\n"
    )
    assert emails() == before
    assert JobCheckpoint.objects.count() == 0


@pytest.mark.parametrize("strategy", ["python", "set"])
def test_a_stopped_run_resumes_where_it_stopped(strategy):
    seed(1000)
    expected = expected_emails()
    third = list(Customer.objects.order_by("pk").values_list("pk", flat=True))[299]
    # Stopped after three batches as a first SIGTERM stops it: at that batch boundary.
    stopped = run_job(
        "normalize_emails", "--strategy", strategy, "--batch-size", "100", stop_after_batches=3
    )
    assert stopped.exit_code == 143
    assert JobRun.objects.get().status == "interrupted"
    checkpoint = JobCheckpoint.objects.get()
    assert checkpoint.last_key == third
    assert checkpoint.counters == {"checked": 300, "changed": 150}

    assert normalize("--strategy", strategy, "--batch-size", "100") == (
        # This run's 700 rows, and the walk's 300 before the stop + 700 after: none twice.
        "checked 700 / changed 350 (commit); the walk: checked 1000 / changed 500\n"
    )
    assert emails() == expected
    assert JobCheckpoint.objects.count() == 0
    stopped, resumed = JobRun.objects.order_by("started_at")
    assert stopped.counters == {"checked": 300, "changed": 150}
    assert stopped.walk["done"] is False and stopped.walk["last_key"] == third
    assert resumed.counters == {"checked": 700, "changed": 350}  # what this run did
    assert resumed.walk == {
        "resumed_after": third,
        "last_key": max(Customer.objects.values_list("pk", flat=True)),
        "counters": {"checked": 1000, "changed": 500},
        "done": True,
        "batch_size": 100,  # the size of its last batch: fixed here (no --batch-time)
    }


@pytest.mark.parametrize(
    ("method", "dry_run"),
    [("normalize_in_python", False), ("normalize_in_sql", False), ("normalize_in_sql", True)],
)
def test_one_batch_of_either_write_path(method, dry_run):
    seed(6)
    before = emails()
    rows = before[1:5]  # two of them need normalising
    counters = process_batch(
        "normalize_emails", method, rows, Customer.objects.all(), dry_run=dry_run
    )
    assert counters == {"checked": 4, "changed": 2}
    after = emails()
    if dry_run:
        assert after == before
    else:
        assert after[1:5] == [(pk, email.strip().lower()) for pk, email in rows]
    assert after[5] == before[5] != (before[5][0], before[5][1].strip().lower())  # outside


def test_restart_ignores_the_checkpoint():
    seed(200)
    first_key = Customer.objects.order_by("pk").values_list("pk", flat=True)[99]
    from batch_jobs.framework.walk import Checkpoints

    Checkpoints("normalize_emails", {"strategy": "python"}, using="default").save(
        first_key, {"checked": 100, "changed": 0}, rows=100
    )
    assert normalize("--restart") == "checked 200 / changed 100 (commit)\n"


def test_the_iterator_strategy_streams_on_a_server_side_cursor(monkeypatch):
    seed(2000)
    fetches, open_cursors = [], []
    original = psycopg.ServerCursor.fetchmany

    def counting_fetchmany(self, size=0):
        fetches.append(size)
        with self.connection.cursor() as probe:
            open_cursors.append(probe.execute("SELECT count(*) FROM pg_cursors").fetchone()[0])
        return original(self, size)

    monkeypatch.setattr(psycopg.ServerCursor, "fetchmany", counting_fetchmany)
    normalize("--strategy", "iterator", "--batch-size", "250")
    assert fetches == [250] * 9  # 8 full chunks and the empty one that ends the loop
    assert set(open_cursors) == {1}


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_peak_memory_does_not_grow_with_the_table(strategy):
    # Holding 30,000 rows would take over 4 MB of Python objects; streaming in batches of 200
    # keeps the peak flat but for bounded caches (psycopg's and Django's) that fill up.
    def peak_for(n):
        Customer.objects.all().delete()
        seed(n)
        tracemalloc.start()
        normalize("--strategy", strategy, "--batch-size", "200")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    small, large = peak_for(3_000), peak_for(30_000)
    assert large - small < 1_000_000, (small, large)
