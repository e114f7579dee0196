"""Throttling on database health: a walk waits between batches while the database is busy,
resumes when it is not, and gives up with 75 after --max-health-wait."""

import re
import threading

import pytest
from django.db import connection

from batch_jobs.backends import backend_for
from batch_jobs.conf import problems
from batch_jobs.models import JobCheckpoint, JobRun
from batch_jobs.testing import run_job
from tests.support.sessions import open_session
from tests.support.waits import wait_for
from tests.testjobs.management.commands import upper_items
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True)

BUSY = {"reason": None}


def busy_check(connection):
    """A project's own check (JOB_HEALTH_CHECKS), driven by the test."""
    return BUSY["reason"]


@pytest.fixture
def items():
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(300))


def run(*args):
    result = run_job("upper_items", *args)
    assert result.exit_code == 0, result.stderr


def test_a_project_check_holds_the_walk_until_it_passes(settings, items, caplog):
    settings.JOB_HEALTH_CHECKS = ["tests.framework.test_health.busy_check"]
    BUSY["reason"] = "the nightly backup is running"
    threading.Timer(1.5, BUSY.update, [{"reason": None}]).start()
    with caplog.at_level("INFO", logger="batch_jobs"):
        run("--batch-size", "100")
    events = [(r.event, r.getMessage()) for r in caplog.records if hasattr(r, "event")]
    throttled = [e for e in events if e[0] in ("throttled", "unthrottled")]
    assert throttled[0] == ("throttled", "waiting: the nightly backup is running")
    assert throttled[1][0] == "unthrottled"
    walk = JobRun.objects.get(job="upper_items").walk
    assert walk["health_waits"] == 1 and walk["health_wait_s"] >= 1.0
    assert not Item.objects.exclude(name__startswith="ITEM").exists()


def test_too_long_a_wait_exits_75_keeping_the_checkpoint(items, monkeypatch):
    calls = []

    def health_check(self, connection):  # a job's own check: busy from the third batch on
        calls.append(1)
        return "still busy" if len(calls) > 2 else None

    monkeypatch.setattr(upper_items.Command, "health_check", health_check)
    result = run_job("upper_items", "--batch-size", "100", "--max-health-wait", "1")
    assert result.exit_code == 75
    assert str(result.exception).startswith("gave up after waiting 1s for the database: still busy")
    assert JobCheckpoint.objects.get().rows == 200  # two batches done, kept for the rerun
    record = JobRun.objects.get(job="upper_items")
    assert (record.status, record.exit_code) == ("failed", 75)
    assert record.walk["health_waits"] == 1 and record.walk["health_wait_s"] >= 1


@pytest.mark.server
def test_max_active_waits_while_other_backends_are_busy(items, caplog):
    def sleep():
        with open_session(connection) as session:
            sleep = "SELECT SLEEP(1.5)" if connection.vendor == "mysql" else "SELECT pg_sleep(1.5)"
            session.execute(sleep)

    sleepers = [threading.Thread(target=sleep) for _ in range(2)]
    for sleeper in sleepers:
        sleeper.start()
    try:
        wait_for(
            lambda: backend_for(connection).active_backends() >= 2, "two busy backends", timeout=5
        )
        with caplog.at_level("INFO", logger="batch_jobs"):
            run("--batch-size", "100", "--max-active", "1")
    finally:
        for sleeper in sleepers:
            sleeper.join()
    events = [(r.event, r.getMessage()) for r in caplog.records if hasattr(r, "event")]
    # At least the two sleepers: the server may be shared (the lanes run side by side on it).
    throttled = [m for e, m in events if e == "throttled"]
    assert throttled, events
    assert re.fullmatch(r"waiting: (\d+) active backends, over --max-active 1", throttled[0])
    assert int(re.search(r"\d+", throttled[0]).group()) >= 2, throttled
    assert "unthrottled" in [event for event, _ in events]
    assert not Item.objects.exclude(name__startswith="ITEM").exists()


def test_an_unknown_health_check_is_a_configuration_error(settings):
    settings.JOB_HEALTH_CHECKS = ["tests.nowhere.check"]
    assert any(
        name == "JOB_HEALTH_CHECKS" and "cannot import 'tests.nowhere.check'" in message
        for name, message in problems()
    )
