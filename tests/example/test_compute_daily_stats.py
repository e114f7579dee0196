"""compute_daily_stats: equal to SQL, idempotent, indexed, dry runs write nothing."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from app.store.models import DailyStat, Order
from batch_jobs.testing import run_job

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

UTC = datetime.UTC
DAY = datetime.date(2026, 3, 10)


@pytest.fixture
def orders():
    """Orders on three days, with some at the very edges of a day."""
    times = [
        datetime.datetime(2026, 3, 9, 23, 59, 59, 999999, UTC),
        datetime.datetime(2026, 3, 10, 0, 0, tzinfo=UTC),
        datetime.datetime(2026, 3, 10, 12, 30, tzinfo=UTC),
        datetime.datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC),
        datetime.datetime(2026, 3, 12, 8, 0, tzinfo=UTC),
    ]
    Order.objects.bulk_create(
        Order(external_id=f"o{i}", amount=Decimal("10.25") * (i + 1), created_at=t)
        for i, t in enumerate(times)
    )


def sql_stats(since, until):
    """The independent computation, straight in SQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d::date, count(o.id), coalesce(sum(o.amount), 0) "
            "FROM generate_series(%s::date, %s::date, '1 day') AS d "
            "LEFT JOIN store_order o ON (o.created_at AT TIME ZONE 'UTC')::date = d::date "
            "GROUP BY d ORDER BY d",
            [since, until],
        )
        return cursor.fetchall()


def stored():
    return list(DailyStat.objects.values_list("date", "order_count", "total_amount"))


def compute(*args):
    result = run_job("compute_daily_stats", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()


def test_a_range_equals_sql_and_a_rerun_changes_nothing(orders):
    assert compute("--since", "2026-03-08", "--until", "2026-03-13") == [
        "6 days: 6 created / 0 updated / 0 unchanged"
    ]
    assert stored() == sql_stats("2026-03-08", "2026-03-13")
    assert compute("--since", "2026-03-08", "--until", "2026-03-13") == [
        "6 days: 0 created / 0 updated / 6 unchanged"
    ]
    assert DailyStat.objects.count() == 6


def test_a_changed_day_is_updated(orders):
    compute("--since", "2026-03-09", "--until", "2026-03-12")
    Order.objects.create(
        external_id="late",
        amount=Decimal("1.00"),
        created_at=datetime.datetime(2026, 3, 11, tzinfo=UTC),
    )
    assert compute("--since", "2026-03-09", "--until", "2026-03-12") == [
        "4 days: 0 created / 1 updated / 3 unchanged"
    ]
    assert stored() == sql_stats("2026-03-09", "2026-03-12")


def test_one_day_uses_a_half_open_range_on_the_index(orders):
    with CaptureQueriesContext(connection) as queries:
        lines = compute("--date", "2026-03-10")
    assert lines == ["2026-03-10: 3 orders / 92.25", "1 days: 1 created / 0 updated / 0 unchanged"]
    aggregate = next(q["sql"] for q in queries if "SUM" in q["sql"])
    assert '"created_at" >= ' in aggregate and '"created_at" < ' in aggregate
    assert "::date" not in aggregate and "AT TIME ZONE" not in aggregate
    assert stored() == sql_stats("2026-03-10", "2026-03-10")
    assert compute("--date", "2026-03-10")[-1] == "1 days: 0 created / 0 updated / 1 unchanged"


def test_dry_run_writes_nothing(orders):
    assert compute("--since", "2026-03-09", "--until", "2026-03-10", "--dry-run") == [
        "2 days: 2 created / 0 updated / 0 unchanged (dry-run)"
    ]
    assert DailyStat.objects.count() == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--date", "2026-03-10", "--since", "2026-03-01", "--until", "2026-03-02"],
        ["--since", "2026-03-01"],
        ["--since", "2026-03-05", "--until", "2026-03-01"],
    ],
)
def test_contradictory_dates_are_usage_errors(args):
    result = run_job("compute_daily_stats", *args)
    assert result.exit_code == 2
