"""Mapping exceptions onto the exit-code contract, with one-line messages."""

import signal

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.db import InterfaceError, OperationalError

from batch_jobs.backends import backends_in_use
from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.stop import JobStopped, OperatorStop, RuntimeLimitReached


def one_line(text):
    """``text`` folded onto one line, as every error message of the contract is."""
    return " ".join(str(text).split())


def classify(exc):
    """The exit code and one-line reason for ``exc``, raised while a job ran."""
    if isinstance(exc, JobStopped):
        name = signal.Signals(exc.signum).name
        return ExitCode.for_signal(exc.signum), f"stopped by {name}"
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.SIGINT, "stopped by SIGINT"
    if isinstance(exc, RuntimeLimitReached):
        return ExitCode.TEMPORARY, one_line(exc)
    if isinstance(exc, OperatorStop):
        return ExitCode.STOPPED, one_line(exc)
    if isinstance(exc, CommandError):
        return exc.returncode, one_line(exc)
    if isinstance(exc, SystemExit):  # sys.exit() in a job: its code, as the process's would be
        if exc.code is None or exc.code == 0:
            return ExitCode.OK, ""
        if isinstance(exc.code, int):
            return exc.code, f"exited with status {exc.code}"
        return ExitCode.BUG, one_line(exc.code)
    if isinstance(exc, ImproperlyConfigured):
        return ExitCode.CONFIG, f"configuration error: {one_line(exc)}"
    if is_transient(exc):
        return ExitCode.TEMPORARY, f"database error, safe to retry: {one_line(exc)}"
    return ExitCode.BUG, f"{type(exc).__name__}: {one_line(exc)}"


def is_transient(exc):
    """Whether ``exc`` is a database error that says "try again later" (a lost connection, a
    serialization failure, a deadlock, a lock or statement timeout), as the backends of the
    connections in use tell: Django wraps the driver's errors in its own classes."""
    in_use = backends_in_use()
    transient = {OperationalError, InterfaceError}
    for backend in in_use:
        transient.update(backend.transient_errors())
    if not isinstance(exc, tuple(transient)):
        return False
    return not any(backend.is_permanent(exc) for backend in in_use)
