"""One run of a job, start to finish: everything ``JobCommand.execute`` wraps around ``handle``.

In order: listen for stop signals and arm the database deadline; wait for the database; take
the overlap lock (or record a skip); write the run record (a paused job's run stops there,
recorded as a skip); tell the monitors and log ``start``; run the job; then, however it ended,
write the record's end, tell the monitors, log ``finish`` and release the lock. The record,
the monitors and the ``finish`` event get the run's ``outcome.Outcome`` (status, exit code,
log level, one-line reason); an exception then leaves as it is (``JobCommand.execute``
applies the contract at the process boundary); only the
framework's own stops (a signal's, ``--max-runtime``, an operator's) leave as
``CommandError``.
"""

import contextlib
import logging
import sys
import time
from collections import Counter

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from batch_jobs.backends import backend_for, backends_in_use
from batch_jobs.conf import setting
from batch_jobs.framework import connection, dryrun, output, requests, runs
from batch_jobs.framework.arguments import framework_added
from batch_jobs.framework.database import wait_for_database
from batch_jobs.framework.monitors import Monitors
from batch_jobs.framework.outcome import Outcome, outcome_of
from batch_jobs.framework.redact import (
    REDACTED,
    SECRET_NAME,
    Secret,
    escape_controls,
    is_text,
    keep_secret_options,
    redact_argv,
    redact_options,
)
from batch_jobs.framework.stop import STOP, JobStopped, OperatorStop, RuntimeLimitReached
from batch_jobs.framework.watchdog import WATCHDOG

logger = logging.getLogger("batch_jobs")

#: The runs in progress in this process, outermost first: a job started with call_command from
#: another job runs inside it. The one place nesting is decided: the outermost run listens for
#: stop signals, has the watchdog guard the connections and closes the control connection at
#: its end; the innermost one's deadline is the watchdog's limit; a run's record is the parent
#: of the records of the runs nested in it.
_runs = []


def database_deadline():
    """Seconds of the innermost run's database deadline (0: none); ``None`` outside runs."""
    return _runs[-1].deadline if _runs else None


class Idle:
    """A command's state before its first run: ``argv`` when ``run_from_argv`` started it."""

    def __init__(self, argv=None):
        self.argv = argv
        self.dry_run = False
        self.dry_run_checked = False
        self.counters = Counter()
        self.walk_totals = Counter()


class Run:
    """The state and bookkeeping of one run of ``command``; ``execute(body)`` runs it. The
    command keeps it in one private attribute (``_job_run``), and nothing else."""

    def __init__(self, command, args, options, argv=None):
        self.command = command
        self.job = command.job_name
        self.options = options
        self.dry_run = bool(options.get("dry_run"))  # the framework's --dry-run or the job's
        # A dry run of the framework's --dry-run refuses writes until the job reads the flag;
        # a command that defines --dry-run itself is trusted with it.
        self.dry_run_checked = not (self.dry_run and framework_added(command, "--dry-run"))
        self.counters = Counter()
        self.walk_totals = Counter()  # run_batches: the whole walk's, resumes included
        keep_secret_options(options)  # cut out of every later text of the process
        self.arguments = redact_options({**options, "args": list(args)} if args else options)
        self.skip_if_running = bool(options.get("skip_if_running"))
        self.argv = argv  # from the command line, if any
        max_runtime = options.get("max_runtime")
        self.stop_at = time.monotonic() + max_runtime if max_runtime else None
        self.lock_key = self.using = self.deadline = self.record = self.requests = None
        self.capture = None  # the outermost run's: the last lines printed (framework.output)

    @contextlib.contextmanager
    def capturing(self, options):
        """Keep the last ``JOB_OUTPUT_LINES`` lines of what the block prints, for the record
        (the outermost run only: a nested run prints into its parent's). The streams are the
        ones given to ``call_command`` (``options``), else the command's own, and, for a run
        from the command line, the process's (``print``, log events)."""
        lines = setting("JOB_OUTPUT_LINES")
        if _runs or not lines:
            yield
            return
        every = max(setting("JOB_PROGRESS_INTERVAL"), 1.0)
        self.capture = output.Capture(lines, on_line=output.Saver(self.save_output, every))
        restore = []

        def tee(owner, attribute, name):
            stream = getattr(owner, attribute, None)
            if stream is not None and not isinstance(stream, output.Tee):
                setattr(owner, attribute, output.Tee(stream, self.capture, name))
                restore.append((owner, attribute, stream))

        for name in ("stdout", "stderr"):
            if options.get(name) is not None:
                options[name] = output.Tee(options[name], self.capture, name)
            else:
                tee(getattr(self.command, name), "_out", name)
            if self.argv is not None:
                tee(sys, name, name)
        try:
            yield
        finally:
            for owner, attribute, stream in reversed(restore):
                setattr(owner, attribute, stream)

    def settle_output(self):
        """Put the last lines printed on the record, for its next save."""
        if self.capture is not None and self.record is not None:
            self.record.output = self.capture.snapshot()

    def save_output(self):
        """Write the last lines printed to the record now (while the job prints)."""
        if self.record is not None and self.record.finished_at is None:
            self.settle_output()
            runs.save_output(self.using, self.record)

    def execute(self, body):
        """Run ``body()`` (the job's own ``execute``) inside the whole lifecycle."""
        outermost = not _runs
        try:
            self.lock_key = lock_key(self.command, self.options)
            self.using = connection.control_alias()
            self.deadline = self.command.database_deadline
            with self.in_progress(outermost):
                for alias in dict.fromkeys([self.using, DEFAULT_DB_ALIAS]):
                    wait_for_database(alias)
                lock = self.acquire_lock() if self.lock_key else None
                if lock is False:
                    return None  # skipped with --skip-if-running
                try:
                    return self.recorded(body)
                finally:
                    if lock is not None:
                        release(lock)
        except (JobStopped, RuntimeLimitReached, OperatorStop) as exc:  # the framework's stops
            raise outcome_of(exc).command_error() from exc
        finally:
            if outermost:
                connection.close_own()

    @contextlib.contextmanager
    def in_progress(self, outermost):
        """This run on the registry of runs in progress for the block; the outermost one sets
        up what is the process's: stop signals and the watchdog."""
        _runs.append(self)
        try:
            with contextlib.ExitStack() as process_wide:
                if outermost:
                    process_wide.enter_context(STOP.listening())
                    watching = WATCHDOG.watching(database_deadline, connections[self.using])
                    process_wide.enter_context(watching)
                yield
        finally:
            _runs.pop()

    def recorded(self, body):
        # Started by the run it is nested in: from its job, which runs after its record.
        parent = _runs[-2].record if len(_runs) > 1 else None
        self.record = runs.start(
            self.using,
            self.job,
            self.arguments,
            self.dry_run,
            self.lock_key,
            parent=parent,
            argv=redact_argv(self.argv) if self.argv is not None else None,
        )
        if self.lock_key:
            abandoned = runs.mark_abandoned(self.using, self.lock_key, self.record)
            if abandoned:
                self.log(
                    "abandoned", "marked %s earlier run(s) abandoned", abandoned, count=abandoned
                )
        if (pause := requests.paused(self.using, self.job)) is not None:
            reason = (
                f"{self.job} is paused (by {pause.paused_by}, "
                f"{pause.paused_at:%Y-%m-%d %H:%M:%S %Z}); `jobctl resume {self.job}` resumes it"
            )
            outcome = Outcome.skipped(reason)
            runs.finish(self.using, self.record, outcome)
            self.log(
                "paused",
                "%s; skipped with exit code 0",
                reason,
                level=outcome.level,
                status=str(outcome.status),
                exit_code=int(outcome.exit_code),
            )
            return None
        if not self.dry_run and (answered := requests.answer_retries(self.using, self.record)):
            self.log("retry", "answers %s pending retry request(s)", answered, count=answered)
        self.requests = requests.Requests(self.using, self.job, self.record.pk)
        started = time.monotonic()
        monitors = Monitors(self.command, self.record.pk)
        monitors.start()
        self.log("start", "started", arguments=self.arguments, dry_run=self.dry_run)
        outcome = Outcome.succeeded()
        caller = STOP.at_once  # a nested run's caller gets its own stop state back
        try:
            STOP.work_begins()  # a signal that came during the bookkeeping stops it here
            try:
                with contextlib.ExitStack() as guard:
                    if not self.dry_run_checked:
                        guard.enter_context(dryrun.guarded(self))
                    result = body()
                # What the job wrote reaches its reader now, while the run can still say
                # that the reader went away (OutputClosed), rather than at the exit's flush.
                self.command.stdout.flush()
                return result
            except Exception as exc:
                if STOP.requested and any(b.was_cancelled(exc) for b in backends_in_use()):
                    # The statement a stop signal cancelled (stop.py): the stop, not an error.
                    raise JobStopped(STOP.signum) from exc
                raise
        except BaseException as exc:
            outcome = outcome_of(exc)
            raise
        finally:
            STOP.work_ends()  # the work is over: a first signal must not cut the bookkeeping
            try:
                outcome = outcome.ended(time.monotonic() - started, self.counters)
                # The finish event first: it is the last line of the output the record keeps,
                # and says what went wrong (the process's own last line, from Django, comes
                # after the run). The record is closed whatever the logging does.
                try:
                    self.log(
                        "finish",
                        "%s with exit code %s in %.2fs",
                        outcome.status,
                        int(outcome.exit_code),
                        outcome.duration,
                        status=str(outcome.status),
                        exit_code=int(outcome.exit_code),
                        duration_s=round(outcome.duration, 3),
                        counters=outcome.counters,
                        walk=self.record.walk or None,
                        error=outcome.reason or None,
                        level=outcome.level,
                    )
                finally:
                    self.settle_output()
                    runs.finish(self.using, self.record, outcome)
                    monitors.finish(outcome)
            finally:
                STOP.work_ends(caller)

    def acquire_lock(self):
        """The held lock, ``False`` when skipped, or raises ``CommandError`` (75)."""
        lock = backend_for(connections[self.using]).lock(self.lock_key)
        if lock.acquire():
            return lock
        holder = runs.holder(self.using, self.lock_key)
        reason = f"already running: {self.job} is held by {holder}"
        outcome = Outcome.skipped(reason) if self.skip_if_running else Outcome.blocked(reason)
        self.record = runs.record_ended(
            self.using, self.job, self.arguments, self.dry_run, self.lock_key, outcome
        )
        self.log(
            str(outcome.status),
            "%s; %s with exit code %s",
            reason,
            outcome.status,
            int(outcome.exit_code),
            level=outcome.level,
            status=str(outcome.status),
            exit_code=int(outcome.exit_code),
        )
        if self.skip_if_running:
            return False
        raise outcome.command_error()

    def check_requests(self):
        """Raise ``OperatorStop`` if an operator asked this run to stop or paused its job."""
        if self.requests is not None:
            self.requests.check()

    def walk_stands(self, resumed_after, last_key, totals, done, **more):
        """Where the batch walk stands, for the run record (saved with the counters); ``more``
        (the batch size chosen last) stays until replaced."""
        if self.record is not None:
            self.record.walk = {
                **self.record.walk,
                "resumed_after": resumed_after,
                "last_key": last_key,
                "counters": dict(totals),
                "done": done,
                **more,
            }

    def save_counters(self):
        """Write the job's counters to the run record now (the finish writes them anyway)."""
        if self.record is not None:
            self.settle_output()
            runs.save_counters(self.using, self.record, self.counters)

    def progress(self, snapshot):
        """Save a progress snapshot, with the counters, to the run record."""
        if self.record is not None:
            self.settle_progress(snapshot)
            self.save_counters()

    def settle_progress(self, snapshot):
        """Keep the last progress snapshot for the record's finish to write."""
        if self.record is not None:
            self.record.progress = {**snapshot, "at": timezone.now().isoformat()}

    def log(self, event, message, *args, level=logging.INFO, **fields):
        run_id = self.record.pk if self.record is not None else None
        extra = {"event": event, "job": self.job, "run_id": run_id, **fields}
        logger.log(level, message, *args, extra=extra)


def refuse_argv(command, words):
    """Refuse a command line that is not text (bytes the locale could not decode, which
    Python passes as lone surrogates): a ``failed`` record with exit 2 saying which word, the
    bytes shown escaped, and ``CommandError`` (2) for the process. No option is parsed and
    no work done; the record is written when the database answers, else only the line."""
    hidden = secret_words(command, words)
    shown = [REDACTED if n in hidden else escape_controls(word) for n, word in enumerate(words)]
    bad = next(n for n, word in enumerate(words) if not is_text(word))
    outcome = Outcome.refused(
        f"argument {bad + 1} is not valid UTF-8 text ({shown[bad]}); the job was not run: "
        "give its arguments as UTF-8"
    )
    job = command.job_name
    record = None
    try:
        using = connection.control_alias()
        wait_for_database(using)
        record = runs.record_ended(
            using, job, {"argv": redact_argv(shown)}, False, "", outcome, argv=None
        )
    except Exception as e:  # the refusal is the answer; the record is its evidence
        logger.warning(
            "could not record the refused run: %s",
            escape_controls(e),
            extra={"event": "record_failed", "job": job},
        )
    logger.log(
        outcome.level,
        "%s with exit code %s",
        outcome.status,
        outcome.exit_code,
        extra={
            "event": "finish",
            "job": job,
            "run_id": record.pk if record is not None else None,
            "status": str(outcome.status),
            "exit_code": outcome.exit_code,
            "error": outcome.reason,
        },
    )
    raise outcome.command_error()


def secret_words(command, words):
    """The positions in ``words`` (a command line not parsed) of secret values: after an
    option secret by name or typed ``Secret``, or every word when a positional argument is
    typed ``Secret`` (which word it takes is argparse's to tell)."""
    actions = command.create_parser("job", command.job_name)._actions
    flags = {flag for action in actions if action.type is Secret for flag in action.option_strings}
    if any(action.type is Secret and not action.option_strings for action in actions):
        return set(range(len(words)))
    hidden = set()
    for n, word in enumerate(words):
        name, eq, _ = word.partition("=")
        if name in flags or (word.startswith("-") and SECRET_NAME.search(name.lstrip("-"))):
            hidden.add(n if eq else n + 1)
    return hidden


def lock_key(command, options):
    """``namespace:job[:option=value...]``, or ``""`` when the run takes no lock."""
    declared = command._batch_job
    if not declared.lock or options.get("no_lock"):
        return ""
    parts = [setting("JOB_LOCK_NAMESPACE"), command.job_name]
    parts += [f"{name}={options.get(name)}" for name in declared.lock_args]
    if options.get("shard"):  # each shard of a sharded walk has a lock of its own
        parts.append(f"shard={options['shard']}")
    return ":".join(parts)[:255]


def release(lock):
    try:
        lock.release()
    except Exception:  # a lost connection has released it already
        logger.debug("lock release failed", exc_info=True)
