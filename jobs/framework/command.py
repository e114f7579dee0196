"""``JobCommand``: a ``BaseCommand`` that runs as a batch job cron, Kubernetes and CI can trust."""

import argparse
import contextlib
import logging
import time
from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction

from jobs.exitcodes import ExitCode
from jobs.framework import runs, schedule
from jobs.framework.batches import Checkpoints, next_batch
from jobs.framework.database import wait_for_database
from jobs.framework.errors import classify
from jobs.framework.lock import lock_for
from jobs.framework.ping import ping
from jobs.framework.progress import Progress
from jobs.framework.redact import redact_options
from jobs.framework.stop import STOP, JobStopped, RuntimeLimitReached
from jobs.framework.watchdog import WATCHDOG
from jobs.models import JobRun

logger = logging.getLogger("jobs")

# Runs in progress in this process, outermost first: a job started with call_command from
# another job records the outer run as its parent.
_active_runs = []


def bounded(convert, what, minimum=0, inclusive=False):
    """An argparse type: ``convert`` the text and require it above (or at) ``minimum``."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (value == minimum and not inclusive):
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
        return value

    return parse


positive_seconds = bounded(float, "a positive number of seconds")
positive_int = bounded(int, "a positive whole number")
non_negative_seconds = bounded(float, "zero or more seconds", inclusive=True)


class JobCommand(BaseCommand):
    """Base class of batch jobs. Subclass it like ``BaseCommand``: fill in ``add_arguments`` and
    ``handle`` (never ``execute``), and the framework wraps every run with:

    * a wait for the database (``JOB_DB_WAIT_SECONDS``, exit 69 when it stays unreachable);
    * an overlap lock (exit 75 "already running", or 0 with ``--skip-if-running``);
    * a run record (``jobs.models.JobRun``) written at start and finish, outside the job's
      transactions, with the counters the job reports in ``self.counters``;
    * graceful stop: SIGTERM/SIGINT set a flag that ``check_stop()`` turns into a stop at the
      next batch boundary (exit 143/130); ``--max-runtime`` stops the same way with exit 75;
    * a client-side deadline (``JOB_DB_TIMEOUT``) on each batch and each statement, so that a
      database that stops answering ends the run with exit 75 instead of a hang;
    * exit codes from ``jobs.exitcodes`` for every outcome, and JSON or text log events;
    * monitor pings to ``JOB_PING_URL``.

    Class attributes:

    ``help``
        One sentence; the first line is what ``job --list`` shows.
    ``supports_dry_run = True``
        Add ``--dry-run``; the job reads ``self.dry_run`` and writes nothing when it is set.
    ``lock = True``
        Take the overlap lock and add ``--no-lock`` and ``--skip-if-running``. Set ``False``
        for a job that is safe to run concurrently with itself.
    ``lock_args = ()``
        Option names whose values widen the lock key: with ``lock_args = ("tenant",)`` runs
        for different tenants may overlap, runs for the same tenant may not.
    ``batch_size = None``
        Set it (say 5000) for a batch job: the job gets ``--batch-size N``, ``--restart`` and
        ``--throttle SECONDS``, and walks its data with ``self.run_batches(queryset, process)``
        (see ``jobs.framework.batches``).
    ``schedule = None``
        A five-field cron expression (or ``@daily`` and the like): ``jobctl render`` turns it
        into a Kubernetes CronJob, a crontab line or a systemd timer. Checked when the job is
        loaded. ``schedule_args`` are the arguments the scheduled run gets.
    ``schedule_timezone = None``
        IANA zone of the schedule (UTC when unset).
    ``max_runtime = None``
        Seconds a scheduled run may take: its ``--max-runtime``, and the Kubernetes
        ``activeDeadlineSeconds`` (plus the grace period).
    ``retries = 2``
        How often a scheduler retries a run that failed with a retryable exit code.
    ``resources = {}``
        Kubernetes resource requests, such as ``{"cpu": "100m", "memory": "256Mi"}``.
    ``stop_grace_seconds = 60``
        Seconds between SIGTERM and SIGKILL that a scheduler grants; longer than one batch.
    ``db_timeout = None``
        Seconds one batch (with its COMMIT) or one statement outside batches may wait on the
        database before the job closes its connections and exits 75; ``None`` takes
        ``JOB_DB_TIMEOUT`` (300), 0 waits for ever. Raise it for a job whose single statements
        legitimately run longer.
    ``requires_system_checks = []``
        As in ``BaseCommand``; jobs skip the system checks by default to start fast.

    In ``handle``: count what you do in ``self.counters`` (a ``Counter``), call
    ``self.check_stop()`` between units of work that each commit or roll back as a whole, give
    each such unit ``with self.atomic():``, and use ``self.progress(total)`` for long loops.
    Expected failures are ``CommandError(message, returncode=ExitCode.DATA_ERROR)`` and the
    like.
    """

    supports_dry_run = True
    lock = True
    lock_args = ()
    batch_size = None
    schedule = None
    schedule_args = ()
    schedule_timezone = None
    max_runtime = None
    retries = 2
    resources = {}
    stop_grace_seconds = 60
    db_timeout = None
    requires_system_checks = []
    # The job runner refuses these (they would import code named on the command line).
    suppressed_base_arguments = {"--settings", "--pythonpath"}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.schedule is not None:
            schedule.validate(
                cls.__module__.rpartition(".")[2], cls.schedule, cls.schedule_timezone
            )

    # -- arguments ------------------------------------------------------------------------

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        group = parser.add_argument_group("job options")
        if self.supports_dry_run:
            group.add_argument(
                "--dry-run",
                action="store_true",
                help="Compute and report what would change, and write nothing.",
            )
        if self.lock:
            group.add_argument(
                "--no-lock",
                action="store_true",
                help="Do not take the overlap lock (only for work that is safe to overlap).",
            )
            group.add_argument(
                "--skip-if-running",
                action="store_true",
                help="Exit 0 instead of 75 when another run of this job holds the lock.",
            )
        if self.batch_size:
            group.add_argument(
                "--batch-size",
                type=positive_int,
                default=self.batch_size,
                metavar="N",
                help=f"Rows per batch, each in its own transaction (default {self.batch_size}).",
            )
            group.add_argument(
                "--restart",
                action="store_true",
                help="Ignore the checkpoint of an unfinished earlier run and start from the top.",
            )
            group.add_argument(
                "--throttle",
                type=non_negative_seconds,
                default=0.0,
                metavar="SECONDS",
                help="Pause between batches, to spare a database that also serves users.",
            )
        group.add_argument(
            "--max-runtime",
            type=positive_seconds,
            metavar="SECONDS",
            help="Stop at the first batch boundary after this many seconds and exit 75, "
            "so that a scheduler retries and the next run resumes.",
        )
        return parser

    # -- the run --------------------------------------------------------------------------

    @property
    def database_deadline(self):
        """Seconds of the database deadline: ``db_timeout``, else ``JOB_DB_TIMEOUT``; 0: none."""
        return settings.JOB_DB_TIMEOUT if self.db_timeout is None else self.db_timeout

    @property
    def job_name(self):
        return self.__module__.rpartition(".")[2]

    def execute(self, *args, **options):
        self.options = options
        self.dry_run = bool(options.get("dry_run"))
        self.counters = Counter()
        self.run = None
        max_runtime = options.get("max_runtime")
        self._deadline = time.monotonic() + max_runtime if max_runtime else None
        arguments = redact_options({**options, "args": list(args)} if args else options)
        with STOP.listening(), WATCHDOG.watching(self.database_deadline):
            try:
                wait_for_database(runs.CONTROL_DB)
                lock_key = self._lock_key(options)
                lock = self._acquire_lock(lock_key, arguments, options) if lock_key else None
                if lock is False:
                    return None  # skipped with --skip-if-running
                try:
                    return self._run(args, options, arguments, lock_key)
                finally:
                    if lock is not None:
                        self._release(lock)
            except BaseException as exc:
                code, reason = classify(exc)
                if code == ExitCode.BUG or isinstance(exc, CommandError):
                    raise  # a bug keeps its traceback; a job's own CommandError stands as is
                raise CommandError(reason, returncode=code) from exc

    def _run(self, args, options, arguments, lock_key):
        parent = _active_runs[-1] if _active_runs else None
        self.run = runs.start(self.job_name, arguments, self.dry_run, lock_key, parent=parent)
        if lock_key:
            abandoned = runs.mark_abandoned(lock_key, self.run)
            if abandoned:
                self.log_event(
                    "abandoned", "marked %s earlier run(s) abandoned", abandoned, count=abandoned
                )
        _active_runs.append(self.run)
        started = time.monotonic()
        ping(settings.JOB_PING_URL, "start")
        self.log_event("start", "started", arguments=arguments, dry_run=self.dry_run)
        status, code, reason = JobRun.Status.SUCCEEDED, ExitCode.OK, ""
        try:
            return super().execute(*args, **options)
        except BaseException as exc:
            code, reason = classify(exc)
            interrupted = isinstance(exc, KeyboardInterrupt | RuntimeLimitReached)
            status = JobRun.Status.INTERRUPTED if interrupted else JobRun.Status.FAILED
            raise
        finally:
            _active_runs.pop()
            elapsed = time.monotonic() - started
            runs.finish(self.run, status, code, self.counters, reason)
            ping(settings.JOB_PING_URL, str(int(code)))
            self.log_event(
                "finish",
                "%s with exit code %s in %.2fs",
                status,
                int(code),
                elapsed,
                status=str(status),
                exit_code=int(code),
                duration_s=round(elapsed, 3),
                counters=dict(self.counters),
                error=reason or None,
                level=logging.INFO if code == ExitCode.OK else logging.ERROR,
            )

    # -- the overlap lock -----------------------------------------------------------------

    def _lock_key(self, options):
        if not self.lock or options.get("no_lock"):
            return ""
        parts = [settings.JOB_LOCK_NAMESPACE, self.job_name]
        parts += [f"{name}={options.get(name)}" for name in self.lock_args]
        return ":".join(parts)[:255]

    def _acquire_lock(self, key, arguments, options):
        """The held lock, ``False`` when skipped, or raises ``CommandError`` (75)."""
        lock = lock_for(connections[runs.CONTROL_DB], key)
        if lock.acquire():
            return lock
        reason = f"already running: {self.job_name} is held by {runs.holder(key)}"
        skip = options.get("skip_if_running")
        code = ExitCode.OK if skip else ExitCode.TEMPORARY
        runs.record_skip(self.job_name, arguments, self.dry_run, key, code, reason)
        if skip:
            self.log_event("skipped", "%s; skipped (--skip-if-running)", reason, exit_code=0)
            return False
        raise CommandError(reason, returncode=code)

    def _release(self, lock):
        try:
            lock.release()
        except Exception:  # a lost connection has released it already
            logger.debug("lock release failed", exc_info=True)

    # -- helpers for handle() -------------------------------------------------------------

    def check_stop(self):
        """Stop here if a signal asked for it or ``--max-runtime`` has passed.

        Call it between units of work that each commit or roll back as a whole.
        """
        if STOP.requested:
            raise JobStopped(STOP.signum)
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise RuntimeLimitReached("--max-runtime reached with work left; rerun to resume")

    @contextlib.contextmanager
    def atomic(self, using=None):
        """``transaction.atomic()`` for one batch of a hand-written loop, under the database
        deadline (``JOB_DB_TIMEOUT``) from its first query to its COMMIT. Statements outside
        it have a deadline each; a COMMIT outside it has none."""
        with WATCHDOG.guard(), transaction.atomic(using=using):
            yield

    def run_batches(self, queryset, process, *, fields=(), key="pk", total=None):
        """Walk ``queryset`` in batches and call ``process(batch)`` in each one's transaction.

        ``batch.rows`` holds ``(key, *fields)`` tuples and ``batch.queryset`` the batch's key
        range. The checkpoint is saved in the same transaction; a rerun resumes after the last
        committed batch (``--restart`` starts over) and a finished walk clears it. In a dry
        run every batch is rolled back and no checkpoint is read or written.
        """
        checkpoints = Checkpoints(self.job_name, self.options, using=queryset.db)
        after = None
        if self.options.get("restart") and not self.dry_run:
            checkpoints.clear()
        elif not self.dry_run and (checkpoint := checkpoints.load()) is not None:
            after = checkpoint.last_key
            self.counters.update(checkpoint.counters)
            self.log_event("resume", "resuming after key %s", after, last_key=after)
        batch_size = self.options.get("batch_size") or self.batch_size
        progress = self.progress(total=total)
        try:
            while True:
                self.check_stop()
                before = self.counters.copy()
                try:
                    with self.atomic(using=queryset.db):
                        batch = next_batch(queryset, fields, key, after, batch_size)
                        if batch is None:
                            break
                        process(batch)
                        if self.dry_run:
                            transaction.set_rollback(True, using=queryset.db)
                        else:
                            checkpoints.save(batch.last_key, self.counters)
                except BaseException:
                    self.counters = before  # the batch rolled back, and so do its counts
                    raise
                after = batch.last_key
                progress.advance(len(batch))
                if self.options.get("throttle"):
                    time.sleep(self.options["throttle"])
        finally:
            progress.close()
        if not self.dry_run:
            checkpoints.clear()

    def progress(self, total=None, unit="rows"):
        """A ``Progress`` for a long loop: ``advance(n)`` per batch, ``close()`` at the end."""
        return Progress(self, total=total, interval=settings.JOB_PROGRESS_INTERVAL, unit=unit)

    def save_counters(self):
        """Write ``self.counters`` to the run record now (the finish writes them anyway)."""
        if self.run is not None:
            runs.save_counters(self.run, self.counters)

    def log_event(self, event, message, *args, level=logging.INFO, **fields):
        run_id = self.run.pk if getattr(self, "run", None) is not None else None
        extra = {"event": event, "job": self.job_name, "run_id": run_id}
        if event == "progress":
            extra["counters"] = dict(self.counters)
        logger.log(level, message, *args, extra={**extra, **fields})
