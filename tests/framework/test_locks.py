"""The overlap lock: a held lock is 75 naming its holder, --skip-if-running, --no-lock,
release, and a dead holder's running record marked abandoned."""

import pytest

from batch_jobs.models import JobRun
from batch_jobs.testing import run_job
from tests.support.locks import hold_lock, try_lock
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

LOCK_KEY = "django-jobs:slow_batches"


@pytest.mark.server
def test_a_held_lock_makes_the_run_exit_75_naming_the_holder(other_session):
    holder = JobRun.objects.create(job="slow_batches", lock_key=LOCK_KEY, host="pod-a", pid=42)
    hold_lock(other_session, LOCK_KEY)
    result = run_job("slow_batches", batches=1, sleep=0)
    assert result.exit_code == 75
    assert f"already running: slow_batches is held by run {holder.pk}" in str(result.exception)
    assert "on pod-a (pid 42)" in str(result.exception)
    assert Item.objects.count() == 0
    blocked = JobRun.objects.get(status="blocked")
    assert blocked.exit_code == 75


@pytest.mark.server
def test_a_lost_lock_race_is_logged_as_a_warning(other_session, caplog):
    hold_lock(other_session, LOCK_KEY)
    with caplog.at_level("INFO", logger="batch_jobs"):
        assert run_job("slow_batches", batches=1, sleep=0).exit_code == 75
    (event,) = [r for r in caplog.records if getattr(r, "event", None)]
    assert (event.event, event.levelname, event.exit_code) == ("blocked", "WARNING", 75)
    assert event.run_id == JobRun.objects.get(status="blocked").pk


@pytest.mark.server
def test_skip_if_running_exits_0_and_records_a_skip(other_session):
    hold_lock(other_session, LOCK_KEY)
    result = run_job("slow_batches", batches=1, sleep=0, skip_if_running=True)
    assert (result.exit_code, result.stdout) == (0, "")
    assert Item.objects.count() == 0
    assert JobRun.objects.get().status == "skipped"
    assert JobRun.objects.get().exit_code == 0


@pytest.mark.server
def test_no_lock_runs_alongside_a_holder(other_session):
    hold_lock(other_session, LOCK_KEY)
    assert run_job("slow_batches", batches=1, size=3, sleep=0, no_lock=True).exit_code == 0
    assert Item.objects.count() == 3


@pytest.mark.server
def test_the_lock_is_released_after_the_run(other_session):
    assert run_job("slow_batches", batches=1, sleep=0).exit_code == 0
    assert try_lock(other_session, LOCK_KEY)


def test_a_dead_holders_running_record_is_marked_abandoned():
    dead = JobRun.objects.create(job="slow_batches", lock_key=LOCK_KEY, host="gone", pid=1)
    assert run_job("slow_batches", batches=1, sleep=0).exit_code == 0
    dead.refresh_from_db()
    assert dead.status == "abandoned"
    assert dead.finished_at is not None
    assert "died without finishing" in dead.error
