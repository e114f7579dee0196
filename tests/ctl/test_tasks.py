"""``JOB_TASKS_BACKEND``: a start request enqueued as a ``django.tasks`` task, which
django-tasks-db's ``db_worker`` (a real process) runs as ``jobctl worker`` would."""

import subprocess
import sys
from pathlib import Path

import pytest

from batch_jobs.models import RunRequest
from batch_jobs.operations.control import request_start
from tests.ctl.test_worker import environment, jobctl

pytest.importorskip("django_tasks_db")
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ROOT = Path(__file__).resolve().parents[2]
#: Run what is queued on the "database" backend (tests/settings.py), then exit.
DB_WORKER = ["--backend", "database", "--batch", "--no-startup-delay", "--interval", "0.1"]


def db_worker():
    return subprocess.run(
        [sys.executable, "manage.py", "db_worker", *DB_WORKER],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def shape(request):
    """What a request and its run record say, without the ids and times."""
    request.refresh_from_db()
    run = request.started_run
    return {
        "request": (request.exit_code, request.handled_at is not None, request.error),
        "run": (run.job, run.status, run.exit_code, run.argv, run.arguments),
        "counters": {k: v for k, v in run.counters.items() if k != "peak_rss_kib"},
        "stdout": [line for stream, line in run.output["lines"] if stream == "stdout"],
    }


def test_db_worker_runs_an_enqueued_start_with_the_same_record_as_a_worker(settings):
    by_worker = request_start("print_lines", ["--lines", "3"], "gil")
    assert jobctl("worker", "--drain").returncode == 0
    settings.JOB_TASKS_BACKEND = "database"
    enqueued = request_start("print_lines", ["--lines", "3"], "gil")
    from django_tasks_db.models import DBTaskResult

    task = DBTaskResult.objects.get()
    assert task.task_path == "batch_jobs.operations.tasks.run_requested"
    assert task.args_kwargs["args"] == [enqueued.pk]
    result = db_worker()
    assert result.returncode == 0, result.stderr
    task.refresh_from_db()
    assert task.status == "SUCCESSFUL" and task.return_value == 0
    assert shape(enqueued) == shape(by_worker)
    assert shape(enqueued)["stdout"] == [
        "line 0 " + "x" * 20,
        "line 1 " + "x" * 20,
        "line 2 " + "x" * 20,
    ]
    assert RunRequest.objects.get(pk=enqueued.pk).claimed_by.split(" pid ")[0]  # who ran it
