"""Adaptive batch sizes (--batch-time): toward the target, and halved once on a timeout."""

import re

import pytest
from django.db import OperationalError

from batch_jobs.framework.pacing import BatchSizer
from batch_jobs.models import JobCheckpoint, JobRun
from batch_jobs.testing import run_job
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    result = run_job("paced_items", *args)
    assert result.exit_code == 0, result.stderr


def sizes(caplog):
    return [
        (r.done, r.batch_size)
        for r in caplog.records
        if getattr(r, "event", None) == "progress" and hasattr(r, "batch_size")
    ]


def test_the_size_follows_the_target_when_rows_get_slower_halfway(settings, caplog):
    settings.JOB_PROGRESS_INTERVAL = 0  # an event per batch
    Item.objects.bulk_create(Item(name=f"fast-{i}") for i in range(3000))
    Item.objects.bulk_create(Item(name=f"slow-{i}", batch="slow") for i in range(1500))
    with caplog.at_level("INFO", logger="batch_jobs"):
        run("--batch-time", "0.1", "--batch-size", "20", "--fast", "0.0001", "--slow", "0.002")
    chosen = sizes(caplog)
    fast = [size for done, size in chosen if done <= 3000]
    slow = [size for done, size in chosen if done > 3000]
    # 0.1 s at 0.1 ms a row is at most 1,000 rows; at 2 ms, at most 50. The queries' own
    # time, and a busy machine's longer sleeps, only make batches smaller: the upper bounds
    # are the target's, the lower ones generous.
    assert fast[0] == 40  # at most double per step
    assert 200 <= fast[-1] <= 1000, chosen
    assert 10 <= slow[-1] <= 60, chosen
    assert slow[-1] * 4 <= fast[-1], chosen  # it came down when the rows got slower
    record = JobRun.objects.get(job="paced_items")
    assert record.walk["batch_size"] == chosen[-1][1]
    assert record.counters["rows"] == 4500


def test_fixed_sizes_without_batch_time(settings, caplog):
    settings.JOB_PROGRESS_INTERVAL = 0
    Item.objects.bulk_create(Item(name=f"fast-{i}") for i in range(250))
    with caplog.at_level("INFO", logger="batch_jobs"):
        run("--batch-size", "100")
    progress = [r for r in caplog.records if getattr(r, "event", None) == "progress"]
    assert [r.done for r in progress] == [100, 200, 250]
    assert not any(hasattr(r, "batch_size") for r in progress)


@pytest.mark.server
def test_a_batch_that_times_out_is_retried_once_at_half_the_size(caplog):
    Item.objects.bulk_create(Item(name=f"slow-{i}", batch="slow") for i in range(400))
    with caplog.at_level("INFO", logger="batch_jobs"):
        # 200 rows at 1 ms each is 0.2 s, over the 150 ms timeout; 100 rows fit.
        run(
            "--batch-time", "10", "--batch-size", "200", "--slow", "0.001", "--in-sql",
            "--statement-timeout", "150ms",
        )  # fmt: skip
    timeouts = [r for r in caplog.records if getattr(r, "event", None) == "batch_timeout"]
    (first, *_) = [r.getMessage() for r in timeouts]
    assert first == "a batch of 200 rows timed out; retrying it at 100"
    assert JobRun.objects.get(job="paced_items").counters["rows"] == 400  # nothing lost


@pytest.mark.server
def test_a_second_timeout_in_a_row_gives_up_with_75_keeping_the_checkpoint():
    Item.objects.bulk_create(Item(name=f"slow-{i}", batch="slow") for i in range(400))
    Item.objects.filter(pk__gt=Item.objects.order_by("pk")[49].pk).update(batch="slower")
    result = run_job(
        "paced_items",
        "--batch-time", "10", "--batch-size", "50", "--slow", "0.001", "--fast", "0.01",
        "--in-sql", "--statement-timeout", "200ms",
    )  # fmt: skip
    assert isinstance(result.exception, OperationalError)  # in-process, as the job raised it
    record = JobRun.objects.get(job="paced_items")
    assert record.exit_code == 75
    # PostgreSQL's statement_timeout, or MariaDB's max_statement_time.
    assert re.search(r"due to statement timeout|max_statement_time exceeded", record.error)
    assert JobCheckpoint.objects.get().rows == 50  # the first batch stays done


def test_the_sizer_stays_within_its_floor_and_ceiling():
    sizer = BatchSizer(100, target=1.0, floor=10, ceiling=150)
    sizer.measured(100, 0.01)  # 10,000 rows/s: wants 10,000
    assert sizer.size == 150
    sizer.measured(150, 100.0)  # 1.5 rows/s: wants 1
    assert sizer.size == 10
    sizer.halve()
    assert sizer.size == 10
    fixed = BatchSizer(100)
    fixed.measured(100, 0.01)
    assert fixed.size == 100 and not fixed.adaptive
