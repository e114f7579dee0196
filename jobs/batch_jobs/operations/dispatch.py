"""Running requested runs: a dispatcher claims a pending start or retry request, runs it as its
own ``job NAME ARGS`` process, and records how that process ended. ``jobctl worker`` loops on
it; the ``django.tasks`` task (``batch_jobs.operations.tasks``) runs one request the same way.

Guarantees:

* **One claim per request.** A claim is one conditional ``UPDATE`` of a pending row (not
  claimed, not handled) in autocommit on the control connection: of two dispatchers that
  race for a row, one updates it and the other updates nothing and moves on. Where the
  database has ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL, MariaDB 10.6+, MySQL 8),
  the candidate is picked under that lock, so racing dispatchers pick different rows rather
  than queue on one.
* **A process per request.** ``job`` (the console script beside this Python) runs the job:
  the exit code, the signals, the overlap lock and the run record are a scheduled run's.
  No shell: the words go to ``exec`` as they are. The run record is linked to the request
  (``RunRequest.started_run``) by the run itself: the dispatcher passes the request's id in
  ``BATCH_JOBS_REQUEST`` (``batch_jobs.framework.requests.REQUEST_ENV``).
* **A stop loses nothing.** SIGTERM or SIGINT to the dispatcher is passed to the job it runs,
  which stops at its next batch boundary (exit 143 or 130) keeping its checkpoint; the request
  goes back to pending (claim cleared, secrets written back), so the next claim resumes it
  from the checkpoint. A request whose process ended otherwise is handled: its exit code is
  recorded, and it is never run again by a dispatcher (a failed run is retried by a retry
  request, as any other).
"""

import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connections, transaction
from django.utils import timezone

from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.redact import safe_line
from batch_jobs.framework.requests import REQUEST_ENV
from batch_jobs.framework.runs import host_name
from batch_jobs.models import RunRequest
from batch_jobs.operations.control import Refused, on_control, retryable

logger = logging.getLogger("batch_jobs")

#: The requests a dispatcher runs.
DISPATCHED = (RunRequest.Action.START, RunRequest.Action.RETRY)

#: Exit codes of a process stopped by a signal: its request goes back to pending when the
#: dispatcher itself is stopping (else the stop was someone else's, and the request is done).
SIGNAL_EXITS = (int(ExitCode.SIGINT), int(ExitCode.SIGTERM))


def pending():
    """Start and retry requests nobody has claimed or handled, oldest first."""
    return (
        on_control(RunRequest)
        .filter(action__in=DISPATCHED, handled_at=None, claimed_at=None)
        .order_by("requested_at", "pk")
    )


def worker_name():
    return f"{host_name()} pid {os.getpid()}"[:255]


@dataclasses.dataclass
class Claimed:
    """A request this dispatcher holds, and the secret values it took off the row."""

    request: RunRequest
    secrets: dict


def claim(by=None, pk=None):
    """Claim the oldest pending request (request ``pk``, if given): a ``Claimed``, or ``None``
    when there is none to claim."""
    by = by or worker_name()
    requests = pending() if pk is None else pending().filter(pk=pk)
    alias = requests.db
    # SQLite (no row locks): the read and the conditional UPDATE each in autocommit, where
    # the UPDATE waits for the write lock (the busy timeout). In one transaction, a read that
    # turns into a write fails at once ("database is locked") when another worker wrote since.
    locking = connections[alias].features.has_select_for_update_skip_locked
    candidates = requests.select_for_update(skip_locked=True) if locking else requests
    while True:
        with transaction.atomic(using=alias) if locking else contextlib.nullcontext():
            found = candidates.values_list("pk", "secrets").first()
            if found is None:
                return None
            candidate, secrets = found
            # The secret values leave the row; their positions stay, to tell a start whose
            # secrets are gone (its dispatcher was killed) from one that had none.
            claimed = requests.filter(pk=candidate).update(
                claimed_at=timezone.now(),
                claimed_by=by,
                secrets=dict.fromkeys(secrets or {}),
                exit_code=None,
                error="",
            )
        if claimed:
            request = on_control(RunRequest).select_related("run").get(pk=candidate)
            return Claimed(request, secrets or {})
        # Another dispatcher claimed it between the read and the update: try the next one.


def words(claimed):
    """The command line to run: ``[job, *argv]``, with a start's secrets put back. ``Refused``
    when the request cannot be run (a retry of a run that is no longer retryable, a start
    whose secrets are gone)."""
    request = claimed.request
    if request.action == RunRequest.Action.RETRY:
        if request.run_id is None:
            raise Refused("the run to retry was deleted")
        run = retryable(request.run_id)
        return [run.job, *run.argv]
    argv = list(request.argv or [])
    for position, value in claimed.secrets.items():
        if value is None:
            raise Refused(
                "its secret values are gone (its dispatcher was killed): request it again"
            )
        if not (str(position).isdigit() and int(position) < len(argv) and isinstance(value, str)):
            raise Refused(f"its secret values do not fit its command line ({position!r})")
        argv[int(position)] = value
    return [request.job, *argv]


def alert_stderr(prefix):
    """A writer of whole lines straight to stderr's file descriptor, safe in a signal handler."""

    def write(line):
        with contextlib.suppress(OSError):
            os.write(sys.stderr.fileno(), f"{prefix}{line}\n".encode(errors="replace"))

    return write


def runner():
    """The ``job`` console script beside this Python."""
    return str(Path(sys.executable).parent / "job")


class Dispatcher:
    """Claims and runs requests one at a time; ``stop(signum)`` (the signal handler) passes a
    stop to the process it runs and ends the loop after it."""

    def __init__(self, by=None, out=None, alert=None):
        self.by = by or worker_name()
        self.out = out or (lambda line: None)  # one line per event, for the operator
        # The signal handler's line: written with no buffer (``alert_stderr``), since the
        # signal may come while ``out`` is in the middle of a buffered write, which Python
        # refuses to reenter ("reentrant call inside <_io.BufferedWriter>").
        self.alert = alert or (lambda line: None)
        self.child = None
        self.stopping = None  # the signal that stops the dispatcher
        self.handled = 0

    # -- signals ---------------------------------------------------------------------------

    def stop(self, signum, frame=None):
        if self.stopping is None:
            self.stopping = signum
            self.alert(f"{signal.Signals(signum).name}: stopping after the run in progress")
        child = self.child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)  # the job stops at its next batch boundary

    def listening(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)

    # -- the loop ----------------------------------------------------------------------------

    def run_pending(self, poll=None):
        """Run pending requests until there are none (``poll`` None), or until stopped,
        looking every ``poll`` seconds when none is pending."""
        while self.stopping is None:
            claimed = claim(self.by)
            if claimed is not None:
                self.run(claimed)
                continue
            if poll is None:
                return
            self.wait(poll)

    def wait(self, seconds):
        deadline = time.monotonic() + seconds
        while self.stopping is None and time.monotonic() < deadline:
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))

    def run(self, claimed):
        """Run one claimed request to its end; its process's exit code (``None`` when it
        could not be run)."""
        request = claimed.request
        if self.stopping is not None:  # stopped while it claimed: not started, handed back
            self.release(claimed)
            return None
        try:
            command = words(claimed)
        except Refused as e:
            self.finish(claimed, None, str(e))
            return None
        self.out(
            f"request {request.pk}: {request.action} {request.job} (by {request.requested_by})"
        )
        env = {**os.environ, REQUEST_ENV: str(request.pk)}
        try:
            # Its own session: a terminal's Ctrl-C reaches the dispatcher, which passes it on
            # once (the job would take a second one as "stop now").
            self.child = subprocess.Popen([runner(), *command], env=env, start_new_session=True)
        except OSError as e:
            self.release(claimed)
            raise RunnerMissing(f"cannot run the job runner {runner()}: {e.strerror}") from None
        if self.stopping is not None:  # a signal came while it started
            self.stop(self.stopping)
        try:
            code = self.child.wait()
        finally:
            self.child = None
        if code < 0:  # killed by a signal it did not handle: as a shell reports it
            code = 128 - code
        if code in SIGNAL_EXITS and self.stopping is not None:
            self.release(claimed, code)
            self.out(f"request {request.pk}: stopped ({code}); back to pending, to resume")
        else:
            self.finish(claimed, code)
            self.out(f"request {request.pk}: {request.job} exited {code}")
        return code

    def release(self, claimed, code=None):
        """Put a claimed request back to pending, with its secrets, for the next claim."""
        on_control(RunRequest).filter(pk=claimed.request.pk).update(
            claimed_at=None,
            claimed_by="",
            handled_at=None,  # a retry's run answers it when it starts: it has not finished
            secrets=claimed.secrets,
            exit_code=code,
        )

    def finish(self, claimed, code, error=""):
        self.handled += 1
        on_control(RunRequest).filter(pk=claimed.request.pk).update(
            handled_at=timezone.now(), exit_code=code, error=safe_line(error)[:2000]
        )
        if error:
            self.out(f"request {claimed.request.pk}: not run: {safe_line(error)}")


class RunnerMissing(Exception):
    """The ``job`` console script cannot be started (a broken install: exit 78)."""


def run_request(pk):
    """Claim request ``pk`` and run it here (the ``django.tasks`` task); its exit code, or
    ``None`` when it was claimed already or could not be run."""
    claimed = claim(pk=pk)
    if claimed is None:
        return None
    return Dispatcher().run(claimed)


def enqueue(pk):
    """Enqueue request ``pk`` on the ``JOB_TASKS_BACKEND`` backend."""
    from batch_jobs.operations.tasks import run_requested

    return run_requested.using(backend=_backend()).enqueue(pk)


def _backend():
    from batch_jobs.conf import setting

    return setting("JOB_TASKS_BACKEND")
