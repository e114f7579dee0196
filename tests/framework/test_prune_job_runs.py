"""prune_job_runs, the framework's own job: only old finished records go."""

from datetime import timedelta

import pytest
from django.utils import timezone

from batch_jobs.models import JobRun, RunRequest
from batch_jobs.testing import run_job

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_prune_job_runs_deletes_only_old_finished_records():
    now = timezone.now()
    old = JobRun.objects.create(job="x", status="succeeded", finished_at=now - timedelta(days=40))
    recent = JobRun.objects.create(job="x", status="failed", finished_at=now - timedelta(days=5))
    stuck = JobRun.objects.create(job="x", status="running", started_at=now - timedelta(days=90))
    dry = run_job("prune_job_runs", "--older-than", "30", "--dry-run")
    assert dry.stdout.startswith("[dry-run] 1 ")
    assert JobRun.objects.filter(pk=old.pk).exists()
    assert run_job("prune_job_runs", "--older-than", "30").exit_code == 0
    assert not JobRun.objects.filter(pk=old.pk).exists()
    assert JobRun.objects.filter(pk__in=[recent.pk, stuck.pk]).count() == 2


def test_prune_job_runs_drops_the_secrets_of_starts_no_worker_claimed():
    now = timezone.now()

    def start(days, **more):
        return RunRequest.objects.create(
            action="start",
            job="connect_with",
            argv=["--dsn", "***"],
            secrets={"1": "postgres://u:hunter2@db/x"},
            requested_by="ann",
            requested_at=now - timedelta(days=days),
            **more,
        )

    stale, recent, claimed = start(40), start(5), start(40, claimed_at=now, claimed_by="w")
    assert "1 unclaimed" in run_job("prune_job_runs", "--older-than", "30", "--dry-run").stdout
    assert RunRequest.objects.get(pk=stale.pk).secrets == {"1": "postgres://u:hunter2@db/x"}
    assert run_job("prune_job_runs", "--older-than", "30").exit_code == 0
    kept = {r.pk: r.secrets for r in RunRequest.objects.all()}
    assert kept[stale.pk] == {"1": None}  # refused when claimed, saying its secrets are gone
    assert kept[recent.pk] == kept[claimed.pk] == {"1": "postgres://u:hunter2@db/x"}
