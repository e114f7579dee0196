"""Progress: events off a terminal, live progress in the run record, the last one kept."""

import pytest
from django.db import connection

from batch_jobs.models import JobRun
from batch_jobs.testing import run_job
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_progress_events_off_a_terminal(settings, caplog):
    settings.JOB_PROGRESS_INTERVAL = 0
    with caplog.at_level("INFO", logger="batch_jobs"):
        assert run_job("slow_batches", batches=3, size=2, sleep=0).exit_code == 0
    progress = [r for r in caplog.records if getattr(r, "event", None) == "progress"]
    assert [(r.done, r.total) for r in progress] == [(2, 6), (4, 6), (6, 6)]
    assert progress[-1].counters == {"batches": 3, "rows": 6}
    assert JobRun.objects.get(job="slow_batches").counters == {"batches": 3, "rows": 6}


@pytest.mark.server
def test_the_run_record_holds_live_progress_with_an_estimated_total(settings, monkeypatch):
    settings.JOB_PROGRESS_INTERVAL = 0
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(250))
    with connection.cursor() as cursor:
        # The estimate: PostgreSQL's pg_class.reltuples, InnoDB's TABLE_ROWS.
        cursor.execute(
            "ANALYZE TABLE testjobs_item"
            if connection.vendor == "mysql"
            else "ANALYZE testjobs_item"
        )
    saved = []
    original = JobRun.save

    def spy(self, *args, **kwargs):
        if self.progress and self.status == "running":
            saved.append(dict(self.progress))
        original(self, *args, **kwargs)

    monkeypatch.setattr(JobRun, "save", spy)
    assert run_job("upper_items", batch_size=100).exit_code == 0
    assert [p["done"] for p in saved] == [100, 200, 250]  # written while the run was live
    assert all(p["total"] == 250 and p["estimated"] for p in saved)
    assert all(p["rate"] > 0 and "eta_s" in p and "at" in p for p in saved)
    assert saved[-1]["eta_s"] == 0
    assert JobRun.objects.get(job="upper_items").progress["done"] == 250


def test_a_finished_record_holds_the_last_progress_even_between_reports(settings):
    settings.JOB_PROGRESS_INTERVAL = 3600  # no report while it runs
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(250))
    assert run_job("upper_items", batch_size=100).exit_code == 0
    progress = JobRun.objects.get(job="upper_items").progress
    assert (progress["done"], progress["unit"]) == (250, "rows")
