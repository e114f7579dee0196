"""How a run ended: one table gives the status, exit code, log level and reason together."""

import logging
import signal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.db import OperationalError

from batch_jobs.framework.outcome import Outcome, outcome_of
from batch_jobs.framework.stop import JobStopped, OperatorStop, RuntimeLimitReached

W, E, INFO = logging.WARNING, logging.ERROR, logging.INFO


@pytest.mark.parametrize(
    ("exc", "status", "code", "level", "reason"),
    [
        (JobStopped(signal.SIGTERM), "interrupted", 143, W, "stopped by SIGTERM"),
        (JobStopped(signal.SIGINT), "interrupted", 130, W, "stopped by SIGINT"),
        (KeyboardInterrupt(), "interrupted", 130, W, "stopped by SIGINT"),
        (RuntimeLimitReached("out of\ntime"), "interrupted", 75, W, "out of time"),
        (OperatorStop("alice", "stopped by alice"), "stopped", 3, W, "stopped by alice"),
        (CommandError("bad  input\ndata", returncode=65), "failed", 65, E, "bad input data"),
        (CommandError("plain"), "failed", 1, E, "plain"),
        (CommandError("nothing wrong", returncode=0), "succeeded", 0, INFO, "nothing wrong"),
        (SystemExit(4), "failed", 4, E, "exited with status 4"),
        (SystemExit("gave up"), "failed", 1, E, "gave up"),
        (SystemExit(0), "succeeded", 0, INFO, ""),
        (SystemExit(), "succeeded", 0, INFO, ""),
        (ImproperlyConfigured("no key"), "failed", 78, E, "configuration error: no key"),
        (OperationalError("server closed the connection"), "failed", 75, E,
         "database error, safe to retry: server closed the connection"),
        (ValueError("x\ny"), "failed", 1, E, "ValueError: x y"),
    ],
)  # fmt: skip
def test_each_ending_has_its_status_code_level_and_reason(exc, status, code, level, reason):
    outcome = outcome_of(exc)
    assert (outcome.status, outcome.exit_code, outcome.level, outcome.reason) == (
        status,
        code,
        level,
        reason,
    )
    # What failed is kept for the monitors (Sentry's issue); a success keeps nothing.
    assert outcome.exception is (exc if code else None)


def test_an_operators_stop_names_the_operator():
    assert outcome_of(OperatorStop("alice", "stopped by alice")).stopped_by == "alice"
    assert outcome_of(ValueError()).stopped_by is None


@pytest.mark.parametrize(
    ("outcome", "status", "code", "level"),
    [
        (Outcome.succeeded(), "succeeded", 0, INFO),
        (Outcome.skipped("paused"), "skipped", 0, INFO),
        (Outcome.blocked("already running"), "blocked", 75, W),
    ],
)
def test_the_endings_without_an_exception(outcome, status, code, level):
    assert (outcome.status, outcome.exit_code, outcome.level) == (status, code, level)


def test_at_the_process_boundary_an_outcome_is_its_exit_code_and_reason():
    error = outcome_of(RuntimeLimitReached("--max-runtime reached")).command_error()
    assert (error.returncode, str(error)) == (75, "--max-runtime reached")
    ended = Outcome.blocked("held").ended(1.5, {"rows": 2})
    assert (ended.duration, ended.counters, ended.reason) == (1.5, {"rows": 2}, "held")
