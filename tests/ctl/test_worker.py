"""``jobctl worker``: start and retry requests claimed and run as ``job`` processes, through
real processes on the test database."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from batch_jobs.models import JobRun
from batch_jobs.operations.control import request_retry, request_start
from tests.conftest import ON_SQLITE
from tests.support.sessions import database_url

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

BIN = Path(sys.executable).parent


def environment(**more):
    return {**os.environ, "DATABASE_URL": database_url(), "JOB_LOG_FORMAT": "json", **more}


def jobctl(*words, **more):
    return subprocess.run(
        [BIN / "jobctl", *words], env=environment(**more), capture_output=True, text=True
    )


def worker(*words):
    return subprocess.Popen(
        [BIN / "jobctl", "worker", *words],
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_drain_runs_each_pending_start_as_a_job_process_linked_to_its_record():
    first = request_start("echo_args", ["one", "two words"], "ann")
    second = request_start("fail_with", ["65", "--message", "bad row 3"], "bob")
    result = jobctl("worker", "--drain")
    assert result.returncode == 0, result.stderr
    assert "ran 2 request(s)" in result.stderr
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.exit_code, second.exit_code) == (0, 65)
    assert first.handled_at and second.handled_at and " pid " in first.claimed_by
    echoed = first.started_run
    assert (echoed.job, echoed.status, echoed.argv) == (
        "echo_args",
        "succeeded",
        ["one", "two words"],
    )
    printed = [line for stream, line in echoed.output["lines"] if stream == "stdout"]
    assert printed == ['"one"', '"two words"']
    events = [json.loads(line)["event"] for s, line in echoed.output["lines"] if s == "stderr"]
    assert events[0] == "start"  # the log events, on stderr, are output too
    failed = second.started_run
    assert (failed.status, failed.exit_code) == ("failed", 65)
    # A failed run's output ends with its finish event, which says what went wrong.
    stream, last = failed.output["lines"][-1]
    finish = json.loads(last)
    assert (stream, finish["event"], finish["exit_code"]) == ("stderr", "finish", 65)
    assert finish["error"] == "bad row 3"
    assert jobctl("worker", "--drain").stderr.count("ran 0 request(s)") == 1  # none twice


@pytest.mark.skipif(not ON_SQLITE, reason="tests/reliability/test_dispatch.py on a server")
def test_three_workers_on_sqlite_share_the_requests_without_a_lock_error():
    """SQLite has no row locks: each claim's read and conditional UPDATE are statements of
    their own (in one transaction, the UPDATE after another worker's write failed at once
    with "database is locked", and that worker's --drain with it)."""
    starts = [request_start("echo_args", [f"word-{n}"], "eve") for n in range(15)]
    workers = [worker("--drain") for _ in range(3)]
    said = [w.communicate(timeout=300)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], said
    assert sum(int(s.split("ran ")[1].split(" ")[0]) for s in said) == len(starts)
    runs = sorted(tuple(r.argv) for r in JobRun.objects.filter(job="echo_args"))
    assert runs == sorted((f"word-{n}",) for n in range(15))  # each once, none lost


def test_a_retry_request_reruns_its_run_with_the_same_command_line():
    subprocess.run([BIN / "job", "fail_with", "75"], env=environment(), capture_output=True)
    failed = JobRun.objects.get(job="fail_with")
    retry = request_retry(failed.pk, "carol")
    assert jobctl("worker", "--drain").returncode == 0
    retry.refresh_from_db()
    again = retry.started_run
    assert again.pk != failed.pk and again.argv == failed.argv == ["75"]
    assert (retry.exit_code, again.exit_code, retry.run_id) == (75, 75, failed.pk)


def test_a_starts_secret_waits_apart_and_leaves_the_row_once_claimed():
    dsn = "postgres://reader:hunter2-but-longer@db.internal/orders"
    start = request_start("connect_with", ["--dsn", dsn, "--label", "orders"], "dan")
    start.refresh_from_db()
    assert start.argv == ["--dsn", "***", "--label", "orders"]
    assert start.secrets == {"1": dsn}
    result = jobctl("worker", "--drain")
    assert result.returncode == 0 and "hunter2" not in result.stderr
    start.refresh_from_db()
    run = start.started_run
    assert start.secrets == {"1": None} and start.exit_code == 65 == run.exit_code  # got it
    assert run.argv == ["--dsn", "***", "--label", "orders"]
    stored = json.dumps([run.output, run.error, run.arguments, start.argv])
    assert "cannot read orders from ***" in stored and "hunter2" not in stored


def test_jobctl_start_records_a_start_that_the_worker_runs():
    said = jobctl("start", "echo_args", "--by", "hal", "--", "one", "two")
    assert said.returncode == 0, said.stderr
    assert "requested echo_args one two (request " in said.stdout
    refused = jobctl("start", "upper_items", "--", "--batch-size", "lots")
    assert refused.returncode == 64
    assert (
        refused.stderr
        == "Error: argument --batch-size: must be a positive whole number, not 'lots'\n"
    )
    assert jobctl("worker", "--drain").returncode == 0
    run = JobRun.objects.get(job="echo_args")
    assert (run.argv, run.status) == (["one", "two"], "succeeded")
    assert run.started_by_requests.get().requested_by == "hal"


UNREACHABLE = "postgres://jobs:pw@127.0.0.1:9/jobs"  # the discard port: nothing answers


@pytest.mark.postgresql  # the unreachable database is a PostgreSQL one
def test_without_a_database_drain_exits_69_and_the_loop_waits_until_stopped():
    drained = jobctl("worker", "--drain", DATABASE_URL=UNREACHABLE)
    assert drained.returncode == 69, drained.stderr
    assert drained.stderr.splitlines()[-1].startswith("Error: cannot read the run records")
    assert "Traceback" not in drained.stderr and "pw@" not in drained.stderr
    looping = subprocess.Popen(
        [BIN / "jobctl", "worker", "--poll", "0.2"],
        env=environment(DATABASE_URL=UNREACHABLE),
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in looping.stderr:
        if "looking again in 0.2s" in line:
            break
    looping.send_signal(signal.SIGTERM)
    _, said = looping.communicate(timeout=60)
    assert looping.returncode == 143 and "Traceback" not in said, said
