"""Sharded walks: disjoint key ranges balanced on the real keys, a checkpoint and a lock per
shard, and a plan that every shard of a walk shares."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from batch_jobs.framework.shards import Shard, from_environment
from batch_jobs.models import JobCheckpoint, JobRun, JobShardPlan
from batch_jobs.testing import run_job
from tests.support.sessions import database_url
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True)


def items_with_a_skewed_key_space():
    """1,000 items whose keys crowd at the top: a min..max split would give shard 0 a tenth."""
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(2800))
    keys = list(Item.objects.order_by("pk").values_list("pk", flat=True))
    low = keys[:2000]
    Item.objects.filter(pk__in=low).exclude(pk__in=low[::10]).delete()
    assert Item.objects.count() == 200 + 800
    return Item.objects.count()


def run(*args):
    result = run_job("upper_items", *args)
    assert result.exit_code == 0, result.stderr


def test_four_shards_walk_every_row_once_in_balanced_ranges():
    total = items_with_a_skewed_key_space()
    for index in range(4):
        run("--shard", f"{index}/4", "--batch-size", "60")
    runs = JobRun.objects.filter(job="upper_items").order_by("started_at")
    changed = [r.counters["changed"] for r in runs]
    assert sum(changed) == total  # every row, none twice
    assert all(abs(c - total / 4) <= 1 for c in changed), changed  # balanced, not min..max
    assert [r.arguments["shard"] for r in runs] == ["0/4", "1/4", "2/4", "3/4"]
    assert not Item.objects.exclude(name__startswith="ITEM").exists()
    assert not JobShardPlan.objects.exists() and not JobCheckpoint.objects.exists()


def test_shards_share_one_plan_even_when_rows_come_and_go_meanwhile():
    total = items_with_a_skewed_key_space()
    run("--shard", "0/2", "--batch-size", "100")
    plan = JobShardPlan.objects.get()
    assert plan.finished == [0] and len(plan.bounds) == 1
    Item.objects.filter(pk__lte=plan.bounds[0]).delete()  # shard 0's rows go...
    Item.objects.bulk_create(Item(name=f"late-{i}") for i in range(50))  # ...new ones come
    run("--shard", "1/2", "--batch-size", "100")
    second = JobRun.objects.filter(job="upper_items").latest("started_at")
    assert second.counters["changed"] == total / 2 + 50  # its range as planned, and the new
    assert not JobShardPlan.objects.exists()  # every shard finished: the next walk re-plans


def test_a_finished_shard_waits_for_the_others_and_restart_reopens_it():
    items_with_a_skewed_key_space()
    run("--shard", "0/2")
    Item.objects.update(name="again")
    run("--shard", "0/2")  # shard 1 has not finished: this walk's shard 0 is done
    assert JobRun.objects.filter(job="upper_items").latest("started_at").counters == {}
    assert not Item.objects.filter(name="AGAIN").exists()
    run("--shard", "0/2", "--restart")
    assert Item.objects.filter(name="AGAIN").count() == 500


@pytest.mark.server  # four writers at once: SQLite has one at a time
def test_shards_run_at_once_each_under_its_own_lock():
    total = items_with_a_skewed_key_space()
    url = database_url()
    job = Path(sys.executable).with_name("job")
    env = {**os.environ, "DATABASE_URL": url, "JOB_SHARDS": "4"}
    shards = [
        subprocess.Popen(
            [job, "upper_items", "--batch-size", "25", "--throttle", "0.02"],
            env={**env, "JOB_COMPLETION_INDEX": str(index)},  # as an Indexed Job's pods
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in shards]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    runs = JobRun.objects.filter(job="upper_items")
    assert sorted(r.arguments["shard"] for r in runs) == ["0/4", "1/4", "2/4", "3/4"]
    assert sorted({r.lock_key for r in runs}) == [
        f"django-jobs:upper_items:shard={i}/4" for i in range(4)
    ]
    assert sum(r.counters["changed"] for r in runs) == total


@pytest.mark.parametrize("value", ["4/4", "-1/4", "1/0", "a/b", "1"])
def test_a_bad_shard_exits_2_naming_the_rule(value):
    result = run_job("upper_items", f"--shard={value}")
    assert result.exit_code == 2
    assert re.search(r"must be I/N with 0 <= I < N \(I counts from 0\)", str(result.exception))


def test_a_bad_completion_index_is_a_configuration_error():
    assert from_environment({"JOB_COMPLETION_INDEX": "2", "JOB_SHARDS": "4"}) == "2/4"
    assert from_environment({"JOB_COMPLETION_INDEX": "2"}) is None  # not a sharded Job
    with pytest.raises(CommandError) as excinfo:
        from_environment({"JOB_COMPLETION_INDEX": "4", "JOB_SHARDS": "4"})
    assert excinfo.value.returncode == 78
    assert Shard.parse(" 3/8 ") == Shard(3, 8)
