"""Run control through the database: operators' stop and pause requests, seen at batch
boundaries, and paused jobs.

Requests are rows (``RunRequest``, ``JobPause``), so they reach a run on any host or pod. A
run looks for them in ``check_stop()``, at most once a second (or every
``JOB_PROGRESS_INTERVAL``, when that is shorter), so it sees one within a batch or a second.
"""

import os
import time

from django.utils import timezone

from batch_jobs.conf import setting
from batch_jobs.framework.stop import OperatorStop
from batch_jobs.models import JobPause, RunRequest

#: The environment variable a dispatcher (``batch_jobs.operations.dispatch``) sets on the
#: ``job`` process it starts: the id of the request it runs, which the run links to its record.
REQUEST_ENV = "BATCH_JOBS_REQUEST"


def link_request(using, record):
    """Link run ``record`` to the request its dispatcher runs (``REQUEST_ENV``), once: the
    variable is taken out of the environment, so that no run nested in it, or started by
    it, links itself too."""
    value = os.environ.pop(REQUEST_ENV, "")
    if value.isascii() and value.isdigit():
        RunRequest.objects.using(using).filter(pk=int(value)).update(started_run=record)


def paused(using, job):
    """The ``JobPause`` of ``job``, or ``None``."""
    return JobPause.objects.using(using).filter(job=job).first()


def answer_retries(using, record):
    """Mark the pending retry requests that run ``record`` answers (the same job and command
    line) as handled; their number."""
    if record.argv is None:  # started from code: no command line to compare
        return 0
    return (
        RunRequest.objects.using(using)
        .filter(
            action=RunRequest.Action.RETRY, job=record.job, handled_at=None, run__argv=record.argv
        )
        .update(handled_at=timezone.now())
    )


class Requests:
    """The requests that concern one run, looked for at most every ``every`` seconds."""

    def __init__(self, using, job, run_id):
        self.using, self.job, self.run_id = using, job, run_id
        self.every = min(setting("JOB_PROGRESS_INTERVAL"), 1.0)
        self._next = 0.0

    def check(self):
        """Raise ``OperatorStop`` if the run was asked to stop or its job was paused."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every
        stop = (
            RunRequest.objects.using(self.using)
            .filter(run_id=self.run_id, action=RunRequest.Action.STOP, handled_at=None)
            .first()
        )
        if stop is not None:
            stop.handled_at = timezone.now()
            stop.save(using=self.using, update_fields=["handled_at"])
            raise OperatorStop(stop.requested_by, f"stopped by {stop.requested_by}")
        if (pause := paused(self.using, self.job)) is not None:
            raise OperatorStop(
                pause.paused_by,
                f"paused by {pause.paused_by}; `jobctl resume {self.job}` lets it go on",
            )
