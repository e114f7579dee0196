"""Mapping exceptions onto the exit-code contract, with one-line messages."""

import signal
import sqlite3

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.db import InterfaceError, OperationalError

from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.stop import JobStopped, OperatorStop, RuntimeLimitReached

#: Database errors that say "try again later": a lost connection, a serialization failure,
#: a deadlock, a lock or statement timeout. Django wraps psycopg's errors in its own classes.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError)


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
    if isinstance(exc, TRANSIENT_DB_ERRORS) and not _is_sqlite_bug(exc):
        return ExitCode.TEMPORARY, f"database error, safe to retry: {one_line(exc)}"
    return ExitCode.BUG, f"{type(exc).__name__}: {one_line(exc)}"


def _is_sqlite_bug(exc):
    """SQLite reports SQL errors as OperationalError too; only "locked"/"busy" is transient."""
    cause = exc.__cause__
    return (
        isinstance(cause, sqlite3.OperationalError)
        and "locked" not in str(cause)
        and "busy" not in str(cause)
    )
