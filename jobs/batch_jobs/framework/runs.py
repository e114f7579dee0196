"""Writing run records on the control connection (``using``), in autocommit outside the job's
own transactions, so that a run whose work rolled back still leaves its record."""

import logging
import os
import socket

from django.core.management.base import CommandError
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.utils import timezone

from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework import requests
from batch_jobs.framework.errors import database_remedy, first_line, one_line
from batch_jobs.models import JobRun

logger = logging.getLogger("batch_jobs")


def host_name():
    """The pod or container name (``HOSTNAME`` in both), else this machine's."""
    return os.environ.get("HOSTNAME") or socket.gethostname()


def start(using, job, arguments, dry_run, lock_key, parent=None, **fields):
    """The run's record, written first thing. A database without the framework's tables, or
    one the job may not write to, is a configuration error (78), not a bug."""
    try:
        record = JobRun.objects.using(using).create(
            job=job,
            arguments=arguments,
            dry_run=dry_run,
            lock_key=lock_key,
            host=host_name()[:255],
            pid=os.getpid(),
            parent=parent,
            **fields,
        )
        if parent is None:
            requests.link_request(using, record)  # started by a dispatcher: its request's run
        return record
    except DatabaseError as e:
        remedy = database_remedy(e, tables="the batch_jobs_* tables", connection=connections[using])
        if remedy is None:
            raise
        reason = first_line(e)
        raise CommandError(
            f"cannot write the run record ({reason}); {remedy}", returncode=ExitCode.CONFIG
        ) from e


def record_ended(using, job, arguments, dry_run, lock_key, outcome, **fields):
    """A run that ended before it started: ``blocked`` or ``skipped`` because another held
    the lock, or ``failed`` because its command line was refused."""
    now = timezone.now()
    return start(
        using,
        job,
        arguments,
        dry_run,
        lock_key,
        status=outcome.status,
        exit_code=int(outcome.exit_code),
        started_at=now,
        finished_at=now,
        error=outcome.reason,
        **fields,
    )


def finish(using, run, outcome):
    """Close ``run`` with its ``Outcome``. A failure to write (the database is gone) is
    logged, not raised."""
    run.finished_at = timezone.now()
    run.duration = run.finished_at - run.started_at
    run.status = outcome.status
    run.exit_code = int(outcome.exit_code)
    run.counters = dict(outcome.counters)
    run.error = outcome.reason
    if outcome.stopped_by is not None:
        run.stopped_by = outcome.stopped_by
    fields = [
        "finished_at",
        "duration",
        "status",
        "exit_code",
        "counters",
        "walk",
        "progress",
        "output",
        "stopped_by",
        "error",
    ]
    try:
        try:
            run.save(using=using, update_fields=fields)
        except (OperationalError, InterfaceError):
            # The control connection was cut (the server restarted, or an operator terminated
            # the backend): the next query opens a new one.
            connections[using].close()
            run.save(using=using, update_fields=fields)
    except Exception as e:  # the job's own outcome must win over its bookkeeping
        logger.warning(
            "could not record the end of run %s: %s",
            run.pk,
            one_line(e),
            extra={"event": "record_failed", "run_id": run.pk},
        )


def save_counters(using, run, counters):
    run.counters = dict(counters)
    run.save(using=using, update_fields=["counters", "walk", "progress", "output"])


def save_output(using, run):
    run.save(using=using, update_fields=["output"])


def mark_abandoned(using, lock_key, by_run):
    """Runs still ``running`` under a lock we now hold died without finishing."""
    return (
        JobRun.objects.using(using)
        .filter(lock_key=lock_key, status=JobRun.Status.RUNNING)
        .exclude(pk=by_run.pk)
        .update(
            status=JobRun.Status.ABANDONED,
            finished_at=timezone.now(),
            error=f"died without finishing (found by run {by_run.pk})",
        )
    )


def holder(using, lock_key):
    """The run that holds ``lock_key``, as a phrase for an error message."""
    run = (
        JobRun.objects.using(using)
        .filter(lock_key=lock_key, status=JobRun.Status.RUNNING)
        .order_by("-started_at")
        .first()
    )
    if run is None:
        return "holder unknown (it has not written its run record yet)"
    return (
        f"run {run.pk} started {run.started_at:%Y-%m-%d %H:%M:%S %Z} on {run.host} (pid {run.pid})"
    )
