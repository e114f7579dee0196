"""seed_demo_data and the nightly composite."""

import pytest
from django.db import connection

from app.store.management.commands.nightly import Command as Nightly
from app.store.models import AuthToken, Customer, DailyStat, Order
from batch_jobs.models import JobRun
from batch_jobs.testing import run_job

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def call(name, *args):
    result = run_job(name, *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def snapshot():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT md5(string_agg(email, ',' ORDER BY id)) FROM store_customer),"
            " (SELECT md5(string_agg(external_id || amount || created_at, ',' ORDER BY id))"
            "  FROM store_order)"
        )
        return cursor.fetchone()


def test_seed_is_deterministic_and_a_rerun_adds_nothing():
    call("seed_demo_data", "--users", "50", "--orders", "300", "--tokens", "40", "--seed", "7")
    assert (Customer.objects.count(), Order.objects.count(), AuthToken.objects.count()) == (
        50,
        300,
        40,
    )
    first = snapshot()
    out = call(
        "seed_demo_data", "--users", "50", "--orders", "300", "--tokens", "40", "--seed", "7"
    )
    assert "customers: 0 created, 50 already there" in out
    assert snapshot() == first
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM store_customer WHERE email <> lower(btrim(email))")
        assert cursor.fetchone()[0] == 25  # half need normalize_emails


def test_nightly_runs_each_step_as_a_child_run(settings, mailoutbox):
    settings.DAILY_REPORT_TO = ["ops@example.com"]
    call("seed_demo_data", "--orders", "100", "--tokens", "30")
    out = call("nightly")
    assert out.strip().endswith("Nightly batch complete")
    parent = JobRun.objects.get(job="nightly")
    children = JobRun.objects.filter(parent=parent).order_by("started_at")
    assert [c.job for c in children] == [
        "cleanup_tokens",
        "compute_daily_stats",
        "send_daily_report",
    ]
    assert {c.status for c in children} == {"succeeded"}
    assert DailyStat.objects.count() == 1
    (mail,) = mailoutbox  # yesterday's figures, just computed
    assert mail.to == ["ops@example.com"]
    assert mail.subject.startswith(f"Orders on {DailyStat.objects.get().date}: ")


def test_nightly_stops_at_the_first_failure_with_its_exit_code(monkeypatch):
    monkeypatch.setattr(
        Nightly,
        "steps",
        [("cleanup_tokens", ()), ("fail_with", ("65",)), ("compute_daily_stats", ())],
    )
    result = run_job("nightly")
    assert result.exit_code == 65
    parent = JobRun.objects.get(job="nightly")
    assert (parent.status, parent.exit_code) == ("failed", 65)
    assert [r.job for r in JobRun.objects.filter(parent=parent).order_by("started_at")] == [
        "cleanup_tokens",
        "fail_with",
    ]


def test_dry_runs_of_seed_and_nightly_write_nothing():
    out = call("seed_demo_data", "--users", "10", "--orders", "10", "--tokens", "10", "--dry-run")
    assert "customers: 10 created, 0 already there" in out
    assert Customer.objects.count() == Order.objects.count() == AuthToken.objects.count() == 0
    call("nightly", "--dry-run")
    assert DailyStat.objects.count() == 0
    assert set(
        JobRun.objects.filter(job__in=["cleanup_tokens", "compute_daily_stats"]).values_list(
            "dry_run", flat=True
        )
    ) == {True}
