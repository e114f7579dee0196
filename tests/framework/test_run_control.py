"""Run control through the database: stop, pause, resume and retry, as jobctl asks."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from django.db import connections

from batch_jobs.cli.jobctl import cli
from batch_jobs.models import JobCheckpoint, JobPause, JobRun, RunRequest
from batch_jobs.operations.control import request_retry
from batch_jobs.testing import run_job
from tests.support.sessions import database_url
from tests.support.waits import wait_for
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def jobctl(*args, **env):
    return CliRunner().invoke(cli, list(args), prog_name="jobctl", env=env)


def while_running(job, action):
    """Call ``action(run_id)`` from another thread once ``job`` has a running record that
    counts a batch done (the record's counters are saved at every batch boundary here)."""

    def act():
        try:
            running = wait_for(
                lambda: (
                    JobRun.objects.filter(job=job, status="running").exclude(counters={}).first()
                ),
                f"a running {job} with a batch done",
            )
            action(running.pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=act)
    thread.start()
    return thread


@pytest.fixture(autouse=True)
def fast_polls(settings):
    settings.JOB_PROGRESS_INTERVAL = 0  # look for requests at every batch boundary


@pytest.mark.server  # a second writer while the walk writes: SQLite has one at a time
def test_stop_ends_the_run_at_a_batch_boundary_with_exit_3():
    asker = while_running("slow_batches", lambda pk: jobctl("stop", str(pk), "--by", "alice"))
    result = run_job("slow_batches", batches=40, size=3, sleep=0.1)
    asker.join()
    assert result.exit_code == 3
    assert str(result.exception) == "stopped by alice"
    record = JobRun.objects.get(job="slow_batches")
    assert (record.status, record.exit_code, record.stopped_by) == ("stopped", 3, "alice")
    assert 0 < record.counters["batches"] < 40
    assert Item.objects.count() == record.counters["batches"] * 3  # whole batches only
    request = RunRequest.objects.get(action="stop")
    assert (request.run_id, request.requested_by) == (record.pk, "alice")
    assert request.handled_at is not None


@pytest.mark.server  # a second writer while the walk writes: SQLite has one at a time
def test_pause_stops_the_walk_later_runs_do_nothing_and_resume_goes_on():
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(200))
    asker = while_running("upper_items", lambda pk: jobctl("pause", "upper_items", "--by", "bob"))
    result = run_job("upper_items", batch_size=10, throttle=0.05)
    asker.join()
    assert result.exit_code == 3
    assert str(result.exception).startswith("paused by bob")
    first = JobRun.objects.get(job="upper_items")
    done = first.counters["changed"]
    assert 0 < done < 200 and JobCheckpoint.objects.get().rows == done

    assert run_job("upper_items", batch_size=10).exit_code == 0  # paused: it does nothing
    skipped = JobRun.objects.filter(job="upper_items").latest("started_at")
    assert (skipped.status, skipped.exit_code) == ("skipped", 0)
    assert skipped.error.startswith("upper_items is paused (by bob, ")
    assert Item.objects.filter(name__startswith="ITEM").count() == done

    assert jobctl("resume", "upper_items", "--by", "bob").output == "resumed upper_items\n"
    assert run_job("upper_items", batch_size=10).exit_code == 0
    last = JobRun.objects.filter(job="upper_items").latest("started_at")
    assert (last.status, last.counters["changed"]) == ("succeeded", 200 - done)  # none twice
    assert not Item.objects.exclude(name__startswith="ITEM").exists()
    assert [r.action for r in RunRequest.objects.order_by("requested_at")] == ["pause", "resume"]


def test_retry_reruns_a_run_with_its_arguments_and_exits_with_its_code():
    url = database_url()
    job = Path(sys.executable).with_name("job")
    env = {**os.environ, "DATABASE_URL": url}
    first = subprocess.run(
        [job, "fail_with", "65", "--message", "bad"], env=env, text=True, capture_output=True
    )
    assert first.returncode == 65
    failed = JobRun.objects.get(job="fail_with")
    assert failed.argv == ["65", "--message", "bad"]
    result = jobctl("retry", str(failed.pk), "--by", "carol", DATABASE_URL=url)
    assert result.exit_code == 65
    again = JobRun.objects.filter(job="fail_with").latest("started_at")
    assert again.pk != failed.pk and again.arguments == failed.arguments
    assert RunRequest.objects.get(action="retry").requested_by == "carol"


def test_retry_pending_runs_the_retries_asked_for_from_the_console():
    url = database_url()
    job = Path(sys.executable).with_name("job")
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([job, "fail_with", "75"], env=env, capture_output=True)
    subprocess.run([job, "fail_with", "65"], env=env, capture_output=True)
    first, second = JobRun.objects.filter(job="fail_with").order_by("started_at")
    assert jobctl("retry", "--pending", DATABASE_URL=url).exit_code == 0  # none yet
    request_retry(first.pk, "erin")
    request_retry(second.pk, "erin")
    result = jobctl("retry", "--pending", "--by", "frank", DATABASE_URL=url)
    assert result.exit_code == 65  # the last non-zero exit code
    assert f"retrying run {first.pk} (asked by erin)" in result.output
    retries = list(JobRun.objects.filter(job="fail_with").order_by("started_at"))[2:]
    assert [r.argv for r in retries] == [["75"], ["65"]]
    assert not RunRequest.objects.filter(handled_at=None).exists()
    assert jobctl("retry").exit_code == 2  # a RUN or --pending
    assert jobctl("retry", str(first.pk), "--pending").exit_code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stop", "999999"], "Error: no run 999999; `jobctl history` lists the runs\n"),
        (["retry", "999999"], "Error: no run 999999; `jobctl history` lists the runs\n"),
        (["pause", "nope"], "Error: unknown job 'nope'\n"),
    ],
)
def test_requests_about_what_does_not_exist_exit_64(args, message):
    result = jobctl(*args)
    assert (result.exit_code, result.output) == (64, message)


def test_requests_about_finished_runs_exit_64():
    assert run_job("echo_args", "x").exit_code == 0
    record = JobRun.objects.get(job="echo_args")
    result = jobctl("stop", str(record.pk))
    assert result.exit_code == 64
    assert result.output == (
        f"Error: run {record.pk} (echo_args) has ended (succeeded): nothing to stop\n"
    )
    assert jobctl("retry", str(record.pk)).output == (
        f"Error: run {record.pk} (echo_args) succeeded: nothing to retry\n"
    )
    assert run_job("fail_with", "65").exit_code == 65
    failed = JobRun.objects.get(job="fail_with")
    assert jobctl("retry", str(failed.pk)).output == (
        f"Error: run {failed.pk} was started from code (call_command), not from a command "
        "line: rerun it the same way\n"
    )


def test_pause_and_resume_say_what_they_found():
    assert jobctl("resume", "upper_items").output == "upper_items was not paused\n"
    jobctl("pause", "upper_items", "--by", "dan")
    assert jobctl("pause", "upper_items").output == "upper_items was already paused by dan\n"
    assert JobPause.objects.get().paused_by == "dan"
    assert "\npaused: yes, by dan at " in jobctl("describe", "upper_items").output
    jobctl("resume", "upper_items")
    assert "\npaused: no\n" in jobctl("describe", "upper_items").output
