"""``JobCommand``: a ``BaseCommand`` that runs as a batch job cron, Kubernetes and CI can trust.

This module is the job author's side: the class attributes a job declares and the helpers its
``handle`` calls. The run around ``handle`` is in ``lifecycle``, the batch walk in ``walk``.
"""

import contextlib
import functools
import logging
import re
import sys
import time
from collections import Counter

from django.core.management.base import (
    BaseCommand,
    CommandError,
    OutputWrapper,
    SystemCheckError,
)
from django.db import transaction
from django.utils.module_loading import import_string

from batch_jobs.conf import setting
from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework import connection, declaration, logs, shards
from batch_jobs.framework.arguments import add_job_options
from batch_jobs.framework.lifecycle import Idle, Run, refuse_argv
from batch_jobs.framework.outcome import outcome_of
from batch_jobs.framework.progress import Progress
from batch_jobs.framework.redact import is_text, safe_line, safe_lines
from batch_jobs.framework.stop import STOP, JobStopped, RuntimeLimitReached
from batch_jobs.framework.walk import walk
from batch_jobs.framework.watchdog import WATCHDOG


class RedactedOutput(OutputWrapper):
    """A command's ``self.stderr`` from the command line: every message redacted and its lines
    printable (``redact.safe_lines``) before Django styles it. Its messages are for people;
    ``self.stdout`` is the command's output, left as it is. The colours of a message that
    ``self.style`` coloured (on a terminal) pass; every other escape is shown escaped."""

    _COLOUR = re.compile(r"(\x1b\[[0-9;]*m)")  # SGR: what django.utils.termcolors writes

    @classmethod
    def replacing(cls, wrapper):
        """A redacting wrapper of ``wrapper``'s stream, with its style (errors in red)."""
        if isinstance(wrapper, cls):
            return wrapper
        redacted = cls(wrapper._out, ending=wrapper.ending)
        redacted._style_func = wrapper._style_func
        return redacted

    def write(self, msg="", style_func=None, ending=None):
        parts = self._COLOUR.split(msg)
        text = "".join(p if self._COLOUR.fullmatch(p) else safe_lines(p) for p in parts)
        super().write(text, style_func, ending)


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

    Declarations go in a nested ``class Job:`` (as a model's ``Meta``), so that none of them
    takes a name the command itself may use; ``__init_subclass__`` resolves it once per class
    (merged along the MRO, unknown names refused)::

        class Command(JobCommand):
            help = "Delete expired auth tokens."

            class Job:
                schedule = "0 3 * * *"
                max_runtime = 1800

    ``supports_dry_run = True``
        Add ``--dry-run`` (unless the command has its own); the job reads ``self.dry_run``
        and writes nothing when it is set.
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
        Seconds any run may take before it stops (exit 75) at its next ``check_stop()``: the
        default of ``--max-runtime``, and the Kubernetes ``activeDeadlineSeconds`` (plus the
        grace period).
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

    ``requires_system_checks = []`` (a ``BaseCommand`` attribute, outside ``class Job``):
    jobs skip the system checks by default to start fast.

    A command's own options win: the framework adds each of its options only where the
    command has not defined that option string, and reads the values from ``options``
    whoever declared them. The state of a run lives behind one private attribute; the
    command's own names keep their meaning.

    In ``handle``: count what you do in ``self.counters`` (a ``Counter``), call
    ``self.check_stop()`` between units of work that each commit or roll back as a whole, give
    each such unit ``with self.atomic():``, and use ``self.progress(total)`` for long loops.
    Expected failures are ``CommandError(message, returncode=ExitCode.DATA_ERROR)`` and the
    like. A command that never calls ``check_stop()`` stops at once on SIGTERM/SIGINT, as a
    ``BaseCommand`` does.

    In-process (``call_command``) the exception ``handle`` raised reaches the caller as it
    is; the run record gets the contract's status and exit code. From the command line
    (``run_from_argv``) the contract applies: one line on stderr and the exit code.
    """

    requires_system_checks = []
    _is_job_base = True  # where declaration.flat_attributes stops looking
    _batch_job = declaration.Declaration()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._batch_job = declaration.resolve(cls, cls.__module__.rpartition(".")[2])

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        add_job_options(parser, self)
        # argparse quotes what it refuses: the line goes out redacted, printable and bounded.
        refuse = parser.error
        parser.error = lambda message: refuse(safe_line(message))
        return parser

    @property
    def job_name(self):
        return self.__module__.rpartition(".")[2]

    @property
    def database_deadline(self):
        """Seconds of the database deadline: ``db_timeout``, else ``JOB_DB_TIMEOUT``; 0: none."""
        timeout = self._batch_job.db_timeout
        return setting("JOB_DB_TIMEOUT") if timeout is None else timeout

    def run_from_argv(self, argv):
        # Recorded (secrets redacted), so that `jobctl retry` can rerun it; and the mark of a
        # run at the process boundary, where the exit-code contract applies.
        self._job_run = Idle(argv=argv[2:])
        self.stderr = RedactedOutput.replacing(self.stderr)
        if not all(is_text(word) for word in argv[2:]):
            try:
                refuse_argv(self, argv[2:])
            except CommandError as e:
                self.stderr.write(f"CommandError: {e}")
                sys.exit(e.returncode)
        return super().run_from_argv(argv)

    def execute(self, *args, **options):
        if self._batch_job.batch_size and not options.get("shard"):
            options["shard"] = shards.from_environment()  # an Indexed Job's pod: its index
        argv = self._state.argv if isinstance(self._state, Idle) else None
        run = self._job_run = Run(self, args, options, argv=argv)
        if options.get("stderr"):
            events = options["stderr"]  # call_command(stderr=...)
        elif argv is not None:
            events = logs.PROCESS_STDERR
        else:
            events = logs.INHERIT  # a nested run writes where its parent does; else nowhere
        try:
            with logs.events_to(events), run.capturing(options):
                return run.execute(functools.partial(super().execute, *args, **options))
        except BaseException as exc:
            if argv is None or isinstance(exc, SystemExit | SystemCheckError):
                raise  # in-process, the caller sees what handle raised (checks: their report)
            outcome = outcome_of(exc)
            if outcome.exit_code == ExitCode.BUG and not isinstance(exc, CommandError):
                raise  # a bug keeps its traceback
            # The line on stderr is the outcome's reason: redacted, printable and bounded.
            raise outcome.command_error() from exc

    # -- the state of a run, behind one attribute ------------------------------------------

    def _detached_run(self, options):
        """Per-run state alone (options, counters, dry run), with no lock, record or signal
        handling: what ``batch_jobs.testing.process_batch`` gives one ``process(batch)``."""
        self._job_run = Run(self, (), options)
        return self._job_run

    @property
    def _state(self):
        """The run in progress (or the last one), else the state before any run."""
        if "_job_run" not in self.__dict__:
            self._job_run = Idle()
        return self._job_run

    @property
    def counters(self):
        """What this run did, a ``Counter``: written to the run record and the finish event."""
        return self._state.counters

    @counters.setter
    def counters(self, value):
        self._state.counters = Counter(value)

    @property
    def dry_run(self):
        """Whether this run writes nothing: ``--dry-run``, the framework's or the command's.
        Reading it is what lets a dry run write (``batch_jobs.framework.dryrun``)."""
        self._state.dry_run_checked = True
        return self._state.dry_run

    @dry_run.setter
    def dry_run(self, value):
        self._state.dry_run = bool(value)

    @property
    def walk_totals(self):
        """``run_batches``: the whole walk's counters, earlier resumed runs included."""
        return self._state.walk_totals

    @property
    def control_database(self):
        """The database alias run records are written on (``JOB_CONTROL_DATABASE``)."""
        return getattr(self._state, "using", None) or connection.control_alias()

    # -- helpers for handle() -------------------------------------------------------------

    def check_stop(self):
        """Stop here if a signal asked for it, ``--max-runtime`` has passed, or an operator
        stopped the run or paused its job (``jobctl stop|pause``).

        Call it between units of work that each commit or roll back as a whole.
        """
        STOP.cooperate()  # from now on, the first signal waits for this boundary
        if STOP.requested:
            raise JobStopped(STOP.signum)
        run = self._job_run
        if run.stop_at is not None and time.monotonic() >= run.stop_at:
            raise RuntimeLimitReached("--max-runtime reached with work left; rerun to resume")
        run.check_requests()

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
            settle=self._job_run.settle_progress,
            **kwargs,
        )

    def _report_progress(self, snapshot, drawn):
        if not drawn:  # the bar on the terminal shows it already
            self.log_event("progress", "progress", counters=dict(self.counters), **snapshot)
        self._job_run.progress(snapshot)  # so that the run record shows how far a live run got

    def save_counters(self):
        """Write ``self.counters`` to the run record now (the finish writes them anyway)."""
        self._job_run.save_counters()

    def log_event(self, event, message, *args, level=logging.INFO, **fields):
        """Log a job event (JSON or text) carrying the run id, job name and ``fields``."""
        self._job_run.log(event, message, *args, level=level, **fields)
