"""cleanup_tokens against a real PostgreSQL: the seed tutorial's interface, kept exactly."""

from datetime import timedelta

import pytest
from django.utils import timezone

from app.store.models import AuthToken
from batch_jobs.models import JobRun
from batch_jobs.testing import run_job

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def tokens():
    now = timezone.now()
    for value, age in [("old-60", 60), ("old-31", 31), ("fresh-29", 29), ("fresh-0", 0)]:
        AuthToken.objects.create(value=value, created_at=now - timedelta(days=age))


def cleanup(*args):
    result = run_job("cleanup_tokens", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_dry_run_reports_candidates_and_deletes_nothing(tokens):
    assert cleanup("--dry-run") == "[dry-run] 2 candidates for deletion\n"
    assert AuthToken.objects.count() == 4


def test_real_run_deletes_exactly_the_expired_tokens(tokens):
    cutoff = timezone.now() - timedelta(days=30)
    assert cleanup() == f"Deleted 2 tokens (cutoff={cutoff:%Y-%m-%d})\n"
    assert set(AuthToken.objects.values_list("value", flat=True)) == {"fresh-29", "fresh-0"}


def test_second_run_deletes_nothing(tokens):
    cleanup()
    assert cleanup().startswith("Deleted 0 tokens")
    assert AuthToken.objects.count() == 2


def test_days_moves_the_cutoff(tokens):
    assert cleanup("--days", "45").startswith("Deleted 1 tokens")
    assert not AuthToken.objects.filter(value="old-60").exists()


def test_each_run_leaves_a_record_with_its_counters(tokens):
    cleanup("--dry-run")
    cleanup()
    dry, real = JobRun.objects.filter(job="cleanup_tokens").order_by("started_at")
    assert (dry.status, dry.dry_run, dry.counters) == ("succeeded", True, {"candidates": 2})
    assert (real.status, real.dry_run, real.counters) == ("succeeded", False, {"deleted": 2})
    assert real.exit_code == 0 and real.finished_at >= real.started_at
    assert real.arguments == {
        "days": 30,
        "dry_run": False,
        "max_runtime": None,
        "no_lock": False,
        "skip_if_running": False,
    }
