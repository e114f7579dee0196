"""``JobCommand``: a ``BaseCommand`` that runs as a batch job cron, Kubernetes and CI can trust.

This module is the job author's side: the class attributes a job declares and the helpers its
``handle`` calls. The run around ``handle`` is in ``lifecycle``, the batch walk in ``walk``.
"""

import contextlib
import functools
import logging
import time
from collections import Counter

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import import_string

from batch_jobs.conf import setting
from batch_jobs.framework import schedule, shards
from batch_jobs.framework.arguments import add_job_options
from batch_jobs.framework.lifecycle import Run
from batch_jobs.framework.progress import Progress
from batch_jobs.framework.stop import STOP, JobStopped, RuntimeLimitReached
from batch_jobs.framework.walk import walk
from batch_jobs.framework.watchdog import WATCHDOG


class JobCommand(BaseCommand):
    """Base class of batch jobs. Subclass it like ``BaseCommand``: fill in ``add_arguments`` and
    ``handle`` (never ``execute``), and the framework wraps every run with:

    * a wait for the database (``JOB_DB_WAIT_SECONDS``, exit 69 when it stays unreachable);
    * an overlap lock (exit 75 "already running", or 0 with ``--skip-if-running``);
    * a run record (``batch_jobs.models.JobRun``) written at start and finish, outside the job's
      transactions (on ``JOB_CONTROL_DATABASE``), with the counters in ``self.counters``;
    * graceful stop: SIGTERM/SIGINT set a flag that ``check_stop()`` turns into a stop at the
      next batch boundary (exit 143/130); ``--max-runtime`` stops the same way with exit 75;
    * a client-side deadline (``JOB_DB_TIMEOUT``) on each batch and each statement, so that a
      database that stops answering ends the run with exit 75 instead of a hang;
    * exit codes from ``batch_jobs.exitcodes`` for every outcome, and JSON or text log events;
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
        (see ``batch_jobs.framework.walk``).
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
    ``batch_time = None``
        Seconds each batch should take: sizes adapt toward it (``--batch-time``), within
        ``min_batch_size`` (10) and ``max_batch_size`` (100,000). ``None``: fixed sizes.
    ``shards = None``
        For a batch job with a schedule: how many shards its CronJob's Indexed Job runs
        side by side (``jobctl render kubernetes``), each walking its own key range.
    ``db_timeout = None``
        Seconds one batch (with its COMMIT) or one statement outside batches may wait on the
        database before the job closes its connections and exits 75; ``None`` takes the
        ``JOB_DB_TIMEOUT`` setting (300), 0 waits for ever. Raise it for a job whose single
        statements legitimately run longer.
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
    batch_time = None
    min_batch_size = 10
    max_batch_size = 100_000
    shards = None
    db_timeout = None
    requires_system_checks = []
    # The job runner refuses these (they would import code named on the command line).
    suppressed_base_arguments = {"--settings", "--pythonpath"}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = cls.__module__.rpartition(".")[2]
        if cls.schedule is not None:
            schedule.validate(name, cls.schedule, cls.schedule_timezone)
        if cls.shards is not None and not (
            isinstance(cls.shards, int) and cls.shards >= 1 and cls.batch_size
        ):
            raise ImproperlyConfigured(
                f"job {name}: shards = {cls.shards!r} needs a batch job (batch_size) and a "
                "whole number of shards, 1 or more"
            )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        add_job_options(parser, self)
        return parser

    @property
    def job_name(self):
        return self.__module__.rpartition(".")[2]

    @property
    def database_deadline(self):
        """Seconds of the database deadline: ``db_timeout``, else ``JOB_DB_TIMEOUT``; 0: none."""
        return setting("JOB_DB_TIMEOUT") if self.db_timeout is None else self.db_timeout

    def run_from_argv(self, argv):
        self.argv = argv[2:]  # recorded (secrets redacted), so that `jobctl retry` can rerun it
        return super().run_from_argv(argv)

    def execute(self, *args, **options):
        if self.batch_size and not options.get("shard"):
            options["shard"] = shards.from_environment()  # an Indexed Job's pod: its index
        self.options = options
        self.dry_run = bool(options.get("dry_run"))
        self.counters = Counter()
        self.walk_totals = Counter()  # run_batches: the whole walk's counters, resumes included
        max_runtime = options.get("max_runtime")
        self._stop_at = time.monotonic() + max_runtime if max_runtime else None
        self.run = Run(self, args, options)
        return self.run.execute(functools.partial(super().execute, *args, **options))

    # -- helpers for handle() -------------------------------------------------------------

    def check_stop(self):
        """Stop here if a signal asked for it, ``--max-runtime`` has passed, or an operator
        stopped the run or paused its job (``jobctl stop|pause``).

        Call it between units of work that each commit or roll back as a whole.
        """
        if STOP.requested:
            raise JobStopped(STOP.signum)
        if self._stop_at is not None and time.monotonic() >= self._stop_at:
            raise RuntimeLimitReached("--max-runtime reached with work left; rerun to resume")
        self.run.check_requests()

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
        run every batch is rolled back and no checkpoint is read or written. ``self.counters``
        count what this run did; ``self.walk_totals`` the whole walk, resumed runs included.
        """
        walk(self, queryset, process, fields=fields, key=key, total=total)

    def health_check(self, connection):
        """Override to hold a batch walk while the database is busy by a measure of your own:
        return ``None`` when all is well, else a one-line reason to wait (checked between
        batches, with ``JOB_HEALTH_CHECKS`` and ``--max-lag``/``--max-active``)."""
        return None

    def get_health_checks(self):
        """The checks a batch walk waits on: the project's, then this job's own."""
        checks = [import_string(path) for path in setting("JOB_HEALTH_CHECKS")]
        if type(self).health_check is not JobCommand.health_check:
            checks.append(self.health_check)
        return checks

    def progress(self, total=None, unit="rows", **kwargs):
        """A ``Progress`` for a long loop: ``advance(n)`` per batch, ``close()`` at the end."""
        interval = setting("JOB_PROGRESS_INTERVAL")
        return Progress(
            self._report_progress,
            total=total,
            interval=interval,
            unit=unit,
            settle=self.run.settle_progress,
            **kwargs,
        )

    def _report_progress(self, snapshot, drawn):
        if not drawn:  # the bar on the terminal shows it already
            self.log_event("progress", "progress", counters=dict(self.counters), **snapshot)
        self.run.progress(snapshot)  # so that the run record shows how far a live run got

    def save_counters(self):
        """Write ``self.counters`` to the run record now (the finish writes them anyway)."""
        self.run.save_counters()

    def log_event(self, event, message, *args, level=logging.INFO, **fields):
        """Log a job event (JSON or text) carrying the run id, job name and ``fields``."""
        self.run.log(event, message, *args, level=level, **fields)
