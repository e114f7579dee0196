"""Helpers for testing jobs: run one and look at its outcome, stop a walk, call one batch.

Public API, in the spirit of job-iteration's ``TestHelper``; this project's own tests use it::

    from batch_jobs.testing import process_batch, run_job

    def test_cleanup_deletes_expired_tokens(db):
        result = run_job("cleanup_tokens", "--dry-run")
        assert result.exit_code == 0, result.stderr
        assert result.record.status == "succeeded"

    def test_a_stopped_walk_resumes(db):
        assert run_job("normalize_emails", batch_size=100, stop_after_batches=3).exit_code == 143
        assert run_job("normalize_emails", batch_size=100).exit_code == 0

    def test_one_batch(db):
        counters = process_batch("normalize_emails", "normalize_in_python", [(1, " A@B.C ")])
        assert counters == {"checked": 1, "changed": 1}

``run_job`` runs in-process (``call_command``), as the tests' database fixtures need; the exit
code it reports is the one the process would exit with. Tests of the real process boundary
(signals, ``job``'s exit status, the image) still run a subprocess.
"""

import argparse
import dataclasses
import functools
from collections import Counter
from io import StringIO

from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, transaction

from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.lifecycle import Run
from batch_jobs.framework.outcome import outcome_of
from batch_jobs.framework.stop import STOP
from batch_jobs.framework.walk import Batch

__all__ = ["JobResult", "process_batch", "run_job", "stop_after"]


@dataclasses.dataclass
class JobResult:
    """How one ``run_job`` went.

    ``exit_code``
        The contract's code, as the process would exit: 0 on success, the run record's exit
        code, a ``CommandError``'s ``returncode``, or 2 for arguments the parser refused.
    ``stdout``, ``stderr``
        What the job wrote; ``stderr`` holds the job's events (start, finish, progress, ...).
    ``record``
        The run's ``batch_jobs.models.JobRun`` as it was left, or ``None`` when no run was
        recorded (refused arguments, a plain ``BaseCommand``).
    ``exception``
        What the run raised in-process, or ``None``.
    """

    exit_code: int
    stdout: str
    stderr: str
    record: object = None
    exception: BaseException | None = None

    @property
    def counters(self):
        """The run record's counters (empty without a record)."""
        return Counter(self.record.counters if self.record is not None else {})


def stop_after(n):
    """A context manager: every batch walk (``run_batches``) run inside it is asked to stop,
    as a first SIGTERM does, once ``n`` batches are done. The run then ends exactly as a
    graceful stop: exit 143, record ``interrupted``, checkpoint kept for the next run::

        with stop_after(3):
            result = run_job("normalize_emails", batch_size=100)
    """
    return STOP.stop_after_batches(n)


def run_job(name, *args, stop_after_batches=None, **options):
    """Run the job ``name`` (a command name, or a command instance) in-process with ``args``
    and ``options`` as ``call_command`` takes them, and return a ``JobResult``.

    It does not raise for a run that fails, stops or is refused: assert on the result. A job
    name that does not exist raises, as a mistake in the test. ``stop_after_batches=N`` stops
    the walk after N batches, as ``stop_after(N)`` does.
    """
    command = _load(name)
    stdout, stderr = StringIO(), StringIO()
    run = functools.partial(call_command, command, *args, stdout=stdout, stderr=stderr, **options)
    executed = _watch_execute(command)
    exception = None
    try:
        if stop_after_batches is None:
            run()
        else:
            with stop_after(stop_after_batches):
                run()
    except (Exception, SystemExit) as exc:
        exception = exc
    finally:
        del command.execute  # the class's again
    state = command.__dict__.get("_job_run")
    # As the finish wrote it; not read again, which would reopen the control connection
    # that the run closed.
    record = state.record if isinstance(state, Run) and executed else None
    return JobResult(
        exit_code=_exit_code(exception, record, parsed=bool(executed)),
        stdout=stdout.getvalue(),
        stderr=stderr.getvalue(),
        record=record,
        exception=exception,
    )


def process_batch(command, method, rows, queryset=None, *, key="pk", dry_run=False, **options):
    """Call one ``process(batch)`` of a job on ``rows`` without a whole run, and return the
    counters it left (a ``Counter``).

    ``command`` is a job's name or instance; ``method`` the name of its method (or any
    callable taking the batch). ``rows`` are the tuples ``(key, *fields)`` the walk would
    hand over; with ``queryset``, ``batch.queryset`` is its range ``first key..last key``.
    ``self.counters``, ``self.dry_run``, ``update_rows`` and ``self.log_event`` work as in a
    run, whose options are the job's defaults updated with ``options``; no lock is taken and
    no record written. Attributes a job's ``handle`` sets for its ``process`` can be set on an
    instance passed as ``command``. The batch runs in a transaction of its own, rolled back
    when ``dry_run`` is set, as the walk's.
    """
    command = _load(command)
    parser = command.create_parser("", command.__module__.rpartition(".")[2])
    defaults = {  # as call_command fills them in
        action.dest: action.default
        for action in parser._actions
        if action.dest != "help" and action.default is not argparse.SUPPRESS
    }
    run = command._detached_run({**defaults, "dry_run": dry_run, **options})
    rows = list(rows)
    first, last = (rows[0][0], rows[-1][0]) if rows else (None, None)
    if queryset is not None and rows:
        queryset = queryset.filter(**{f"{key}__gte": first, f"{key}__lte": last})
    batch = Batch(rows, queryset, first, last)
    process = getattr(command, method) if isinstance(method, str) else method
    using = queryset.db if queryset is not None else DEFAULT_DB_ALIAS
    with transaction.atomic(using=using):
        process(batch)
        if dry_run:
            transaction.set_rollback(True, using=using)
    return Counter(run.counters)


def _load(command):
    if isinstance(command, BaseCommand):
        return command
    return load_command_class(get_commands()[command], command)


def _watch_execute(command):
    """A list that gets an item when ``command.execute`` is entered, that is once its
    arguments are parsed."""
    entered = []
    execute = command.execute

    def watched(*args, **options):
        entered.append(True)
        return execute(*args, **options)

    command.execute = watched
    return entered


def _exit_code(exception, record, parsed):
    if exception is None:
        return record.exit_code if record is not None and record.exit_code is not None else 0
    if isinstance(exception, CommandError) and not parsed:
        return ExitCode.USAGE  # the parser refused the arguments, as argparse exits 2
    if record is not None and record.exit_code is not None:
        return record.exit_code
    return int(outcome_of(exception).exit_code)
