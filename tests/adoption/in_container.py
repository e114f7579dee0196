"""The adoption test's helper inside the adopted project's container (its virtualenv, or its
image): what needs the project's Django, or processes side by side on one machine. Prints
JSON on stdout.

    python in_container.py sessions N       N expired sessions
    python in_container.py concurrent JOB   two runs of JOB at once: the first holds the lock
    python in_container.py records          every run record, oldest first

It runs from the project's directory (or with it on PYTHONPATH), DJANGO_SETTINGS_MODULE set.
"""

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta


def setup():
    import django

    sys.path.insert(0, os.getcwd())
    django.setup()


def sessions(count):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    yesterday = timezone.now() - timedelta(days=1)
    Session.objects.bulk_create(
        Session(session_key=f"expired-{i}", session_data="", expire_date=yesterday)
        for i in range(int(count))
    )
    return {"sessions": Session.objects.count()}


def full_pipe():
    """A pipe whose buffer is full: a process writing to it blocks until it is read."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    chunk = b"x" * 65536
    while chunk:
        try:
            os.write(write_end, chunk)
        except BlockingIOError:
            chunk = chunk[: len(chunk) // 2]
    os.set_blocking(write_end, True)
    return read_end, write_end


def concurrent(job):
    """The first run's stderr is a full pipe, so its first log line (``start``, written once
    it holds the lock and has recorded its run) holds it there; the second runs meanwhile."""
    from batch_jobs.models import JobRun

    before = JobRun.objects.count()
    read_end, write_end = full_pipe()
    first = subprocess.Popen(["job", job], stdout=subprocess.PIPE, stderr=write_end, text=True)
    os.close(write_end)
    deadline = time.monotonic() + 60
    while not JobRun.objects.filter(job=job, status="running").exists():
        if time.monotonic() > deadline or first.poll() is not None:
            raise SystemExit(f"the first run never held the lock (exit {first.poll()})")
        time.sleep(0.1)
    holder = JobRun.objects.get(job=job, status="running")
    second = subprocess.run(["job", job], capture_output=True, text=True)
    drained = []
    reader = threading.Thread(target=lambda: drained.append(_read_all(read_end)))
    reader.start()
    stdout, _ = first.communicate(timeout=120)
    reader.join()
    return {
        "holder": {"id": holder.pk, "pid": holder.pid, "first_pid": first.pid},
        "first": {
            "exit_code": first.returncode,
            "stdout": stdout,
            "stderr": drained[0].decode().lstrip("x"),
        },
        "second": {
            "exit_code": second.returncode,
            "stdout": second.stdout,
            "stderr": second.stderr,
        },
        "records": JobRun.objects.count() - before,
    }


def _read_all(fd):
    with os.fdopen(fd, "rb") as stream:
        return stream.read()


def records():
    from batch_jobs.models import JobRun

    return [
        {
            "id": r.pk,
            "job": r.job,
            "status": r.status,
            "exit_code": r.exit_code,
            "counters": r.counters,
            "dry_run": r.dry_run,
            "error": r.error,
        }
        for r in JobRun.objects.order_by("pk")
    ]


if __name__ == "__main__":
    setup()
    command, *args = sys.argv[1:]
    print(
        json.dumps(
            {"sessions": sessions, "concurrent": concurrent, "records": records}[command](*args)
        )
    )
