"""How a run ended, as one value: its status, exit code, log level and one-line reason.

``outcome_of(exc)`` reads them from one table, ``ENDINGS``, for whatever ended a run; the
record, the ``finish`` event, the monitors and the process's exit code all take them from the
``Outcome`` it returns. The endings without an exception (a success, a skip, a lost lock race)
are the ``Outcome`` constructors below the table.
"""

import dataclasses
import logging
import signal
from typing import Any, NamedTuple

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.db import DatabaseError

from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.errors import database_remedy, first_line, is_transient, one_line
from batch_jobs.framework.redact import safe_line
from batch_jobs.framework.stop import (
    JobStopped,
    OperatorStop,
    OutputClosed,
    RuntimeLimitReached,
)
from batch_jobs.models import JobRun

Status = JobRun.Status


class TooMuchLeft(CommandError):
    """A migration gate's inline run found more rows left than the gate walks inside
    ``migrate`` (``batch_jobs.framework.gates``): it stops before its first batch, recorded
    ``blocked`` with exit 75."""

    def __init__(self, message, done=None, total=None):
        super().__init__(message, returncode=ExitCode.TEMPORARY)
        self.done, self.total = done, total


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a run ended, as its record, its ``finish`` event and the monitors tell it."""

    status: Status
    exit_code: int
    level: int  # of the run's last log event
    reason: str = ""  # one line, redacted, printable and bounded; empty on success
    exception: BaseException | None = None  # what ended the run, if it failed
    stopped_by: str | None = None  # the operator who stopped it
    duration: float = 0.0  # seconds, once the run has ended
    counters: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        # A plain int, as the process reports it: a CommandError may carry any int.
        object.__setattr__(self, "exit_code", int(self.exit_code))
        # The reason goes to stderr, the record, the finish event and the monitors: it is
        # made safe for all of them here, once (batch_jobs.framework.redact).
        object.__setattr__(self, "reason", safe_line(self.reason))

    @classmethod
    def succeeded(cls):
        return cls(Status.SUCCEEDED, ExitCode.OK, logging.INFO)

    @classmethod
    def skipped(cls, reason):
        """Not run, and no failure: another run holds the lock (``--skip-if-running``), or
        the job is paused."""
        return cls(Status.SKIPPED, ExitCode.OK, logging.INFO, reason)

    @classmethod
    def refused(cls, reason):
        """Not run: its command line is not text (exit 2)."""
        return cls(Status.FAILED, ExitCode.USAGE, logging.ERROR, reason)

    @classmethod
    def blocked(cls, reason):
        """Not run because another run holds the lock: the next run runs."""
        return cls(Status.BLOCKED, ExitCode.TEMPORARY, logging.WARNING, reason)

    def ended(self, duration, counters):
        """This outcome with the run's duration and counters."""
        return dataclasses.replace(self, duration=duration, counters=dict(counters))

    def command_error(self):
        """The ``CommandError`` that makes the process exit with this outcome's code."""
        return CommandError(self.reason, returncode=self.exit_code)


class Ending(NamedTuple):
    """A row of ``ENDINGS``: what ended the run (a class, or a test of the exception), and the
    status, exit code, log level and reason it ends with. The code and the reason are values
    or functions of the exception."""

    kind: Any
    status: Status
    exit_code: Any
    level: int
    reason: Any


def _signal_name(exc):
    return signal.Signals(exc.signum).name


def _exit_status(exc):
    """``sys.exit()`` in a job: its code, as the process's would be."""
    if exc.code is None or exc.code == 0:
        return ExitCode.OK
    return exc.code if isinstance(exc.code, int) else ExitCode.BUG


def _exit_reason(exc):
    if exc.code is None or exc.code == 0:
        return ""
    if isinstance(exc.code, int):
        return f"exited with status {exc.code}"
    return one_line(exc.code)


def _needs_a_remedy(exc):
    """A database error that retrying cannot fix: a table missing, a database not writable."""
    return isinstance(exc, DatabaseError) and database_remedy(exc) is not None


_INTERRUPTED, _STOPPED, _FAILED = Status.INTERRUPTED, Status.STOPPED, Status.FAILED
_WARNING, _ERROR = logging.WARNING, logging.ERROR

#: How a run ends, by what ended it: the first row that matches. A planned stop is a warning
#: (the next run resumes), a failure an error; an exit code of 0 is a success whatever the row.
ENDINGS = (
    # kind, status, exit code, log level, one-line reason
    Ending(
        JobStopped,  # a signal, at a batch boundary or at once
        _INTERRUPTED,
        lambda e: ExitCode.for_signal(e.signum),
        _WARNING,
        lambda e: f"stopped by {_signal_name(e)}",
    ),
    Ending(KeyboardInterrupt, _INTERRUPTED, ExitCode.SIGINT, _WARNING, "stopped by SIGINT"),
    Ending(OutputClosed, _INTERRUPTED, ExitCode.OUTPUT_CLOSED, _WARNING, one_line),
    Ending(RuntimeLimitReached, _INTERRUPTED, ExitCode.TEMPORARY, _WARNING, one_line),
    Ending(OperatorStop, _STOPPED, ExitCode.STOPPED, _WARNING, one_line),
    Ending(TooMuchLeft, Status.BLOCKED, ExitCode.TEMPORARY, _WARNING, one_line),
    Ending(CommandError, _FAILED, lambda e: e.returncode, _ERROR, one_line),
    Ending(SystemExit, _FAILED, _exit_status, _ERROR, _exit_reason),
    Ending(
        ImproperlyConfigured,
        _FAILED,
        ExitCode.CONFIG,
        _ERROR,
        lambda e: f"configuration error: {one_line(e)}",
    ),
    Ending(
        _needs_a_remedy,
        _FAILED,
        ExitCode.CONFIG,
        _ERROR,
        lambda e: f"database error: {first_line(e)}; {database_remedy(e)}",
    ),
    Ending(
        is_transient,
        _FAILED,
        ExitCode.TEMPORARY,
        _ERROR,
        lambda e: f"database error, safe to retry: {one_line(e)}",
    ),
    Ending(
        BaseException,  # anything else is a bug
        _FAILED,
        ExitCode.BUG,
        _ERROR,
        lambda e: f"{type(e).__name__}: {one_line(e)}",
    ),
)


def outcome_of(exc):
    """The ``Outcome`` of a run that ``exc`` ended."""
    for ending in ENDINGS:
        if _matches(ending.kind, exc):
            break
    code = ending.exit_code(exc) if callable(ending.exit_code) else ending.exit_code
    reason = ending.reason(exc) if callable(ending.reason) else ending.reason
    if code == ExitCode.OK:  # SystemExit(0), CommandError(returncode=0): a success
        return Outcome(Status.SUCCEEDED, ExitCode.OK, logging.INFO, reason)
    stopped_by = exc.by if isinstance(exc, OperatorStop) else None
    return Outcome(ending.status, code, ending.level, reason, exc, stopped_by)


def _matches(kind, exc):
    if isinstance(kind, type):
        return isinstance(exc, kind)
    return kind(exc)
