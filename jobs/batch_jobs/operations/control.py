"""Operators' actions (stop, pause, resume, retry, start): requests to runs and jobs, written
where every run looks: the database. ``jobctl`` and the console both call these; a dispatcher
(``batch_jobs.operations.dispatch``) runs the starts and retries."""

import contextlib
import getpass
import io

from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from batch_jobs.conf import setting
from batch_jobs.framework import requests
from batch_jobs.framework.lifecycle import secret_words
from batch_jobs.framework.redact import (
    REDACTED,
    STORED_CHARS,
    STORED_WORDS,
    intact,
    is_text,
    safe_line,
)
from batch_jobs.framework.runs import host_name
from batch_jobs.models import JobPause, JobRun, RunRequest

#: Runs that may be retried: they ended without finishing their work.
RETRYABLE = {
    JobRun.Status.FAILED,
    JobRun.Status.STOPPED,
    JobRun.Status.INTERRUPTED,
    JobRun.Status.BLOCKED,
    JobRun.Status.ABANDONED,
}


class Refused(Exception):
    """A request that cannot be made (exit 64): an unknown run, a finished one..."""


def operator():
    """Who asks, by default: ``user@host``."""
    return f"{getpass.getuser()}@{host_name()}"


def on_control(model):
    """``model``'s rows where runs write them: the ``JOB_CONTROL_DATABASE`` (None: default)."""
    return model.objects.using(setting("JOB_CONTROL_DATABASE"))


def paused(job):
    """The ``JobPause`` of ``job``, or ``None``: where runs look for it."""
    return requests.paused(setting("JOB_CONTROL_DATABASE"), job)


def records():
    return on_control(JobRun)


def get_run(run_id):
    run = records().filter(pk=run_id).first()
    if run is None:
        raise Refused(f"no run {run_id}; `jobctl history` lists the runs")
    return run


def stop(run_id, by):
    """Ask run ``run_id`` to stop at its next batch boundary."""
    run = get_run(run_id)
    if run.status != JobRun.Status.RUNNING:
        raise Refused(f"run {run_id} ({run.job}) has ended ({run.status}): nothing to stop")
    request(RunRequest.Action.STOP, run.job, by, run=run)
    return run


def pause(job, by):
    """Pause ``job``: the run in flight stops at its next boundary, later runs do nothing.
    Returns the pause, and whether it is new."""
    pauses = on_control(JobPause)
    with transaction.atomic(using=pauses.db):
        pause, created = pauses.get_or_create(job=job, defaults={"paused_by": by})
        if created:
            request(RunRequest.Action.PAUSE, job, by)
    return pause, created


def resume(job, by):
    """Resume ``job``; whether it was paused."""
    pauses = on_control(JobPause)
    with transaction.atomic(using=pauses.db):
        deleted, _ = pauses.filter(job=job).delete()
        if deleted:
            request(RunRequest.Action.RESUME, job, by)
    return bool(deleted)


def retryable(run_id):
    """Run ``run_id``, if it can be run again with the same command line."""
    run = get_run(run_id)
    if run.status not in RETRYABLE:
        raise Refused(f"run {run_id} ({run.job}) {run.status}: nothing to retry")
    if run.argv is None:
        raise Refused(
            f"run {run_id} was started from code (call_command), not from a command line "
            "(or from one that was not text): rerun it the same way"
        )
    if not all(intact(word) for word in run.argv):
        raise Refused(
            f"run {run_id} had secret or overlong arguments, which were not recorded whole: "
            "run it by hand"
        )
    return run


def retry_words(run_id, by):
    """The command line that reruns run ``run_id`` with the same arguments (it resumes from
    its checkpoint), after recording the request (and answering any pending one)."""
    run = retryable(run_id)
    pending_retries().filter(run=run).update(handled_at=timezone.now())
    request(RunRequest.Action.RETRY, run.job, by, run=run, handled=True)
    return [run.job, *run.argv]


def request_retry(run_id, by):
    """Record a retry of run ``run_id`` for someone who cannot start runs (the console): the
    job's next run with the same command line answers it, or ``jobctl retry --pending``."""
    run = retryable(run_id)
    if pending_retries().filter(run=run).exists():
        raise Refused(f"a retry of run {run_id} is already pending")
    return request(RunRequest.Action.RETRY, run.job, by, run=run)


def pending_retries():
    """Retry requests nobody has answered yet, oldest first."""
    return (
        on_control(RunRequest)
        .filter(action=RunRequest.Action.RETRY, handled_at=None)
        .select_related("run")
        .order_by("requested_at")
    )


def request(action, job, by, run=None, handled=False):
    return on_control(RunRequest).create(
        action=action,
        job=job,
        run=run,
        requested_by=by[:150],
        handled_at=timezone.now() if handled else None,
    )


def request_start(job, argv, by):
    """Record a request to run ``job ARGV`` (a list of strings: the command line after the
    job's name), for a dispatcher to run as its own ``job`` process. The command line is
    checked as the runner would check it, with the job's own parser: what the runner would
    refuse is refused here (``Refused``, with the parser's message), and nothing is stored."""
    command = startable(job)
    words = checked_argv(job, command, argv)
    hidden = secret_words(command, words)
    shown = [hide(word) if n in hidden else word for n, word in enumerate(words)]
    secrets = {str(n): words[n] for n in sorted(hidden) if n < len(words)}
    start = on_control(RunRequest).create(
        action=RunRequest.Action.START,
        job=job,
        argv=shown,
        secrets=secrets,
        requested_by=by[:150],
    )
    enqueue(start)
    return start


def startable(job):
    """The command of ``job``, if it is a job of the catalog."""
    from batch_jobs.operations.catalog import UnknownJob, get

    if not isinstance(job, str):
        raise Refused("a job's name must be text")
    try:
        return get(job).command
    except UnknownJob as e:
        raise Refused(safe_line(e)) from None


def checked_argv(job, command, argv):
    """``argv`` as a list, if the runner would run ``job`` with it; else ``Refused``."""
    from batch_jobs.operations import allowlist

    if isinstance(argv, str | bytes) or not isinstance(argv, list | tuple):
        raise Refused("the command line must be a list of words")
    words = list(argv)
    if not all(isinstance(word, str) for word in words):
        raise Refused("every word of the command line must be text")
    if len(words) > STORED_WORDS:
        raise Refused(f"the command line has {len(words)} words: {STORED_WORDS} at most")
    for n, word in enumerate(words, 1):
        if not is_text(word) or "\x00" in word:
            raise Refused(f"argument {n} is not text (it holds a NUL or undecodable bytes)")
        if len(word) > STORED_CHARS:
            raise Refused(f"argument {n} has {len(word)} characters: {STORED_CHARS} at most")
    try:
        allowlist.check_options(words)
        allowlist.check_destructive(job, command, words)
    except allowlist.Refused as e:
        raise Refused(safe_line(e)) from None
    parse(job, command, words)
    return words


def parse(job, command, words):
    """Parse ``words`` with ``job``'s own parser, as ``job`` would; ``Refused`` with the
    parser's message. ``--help`` and ``--version`` (which print and exit) are refused: they
    are not runs."""
    parser = command.create_parser("job", job)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            parser.parse_args(words)
    except CommandError as e:
        raise Refused(safe_line(str(e).removeprefix("Error: "))) from None
    except SystemExit:
        raise Refused("--help and --version print and exit: they are not runs") from None


def hide(word):
    """A secret word as a start request shows it: ``***``, or ``--name=***``."""
    name, eq, _ = word.partition("=")
    return f"{name}={REDACTED}" if eq and word.startswith("-") else REDACTED


def enqueue(start):
    """Hand a start to ``django.tasks`` when ``JOB_TASKS_BACKEND`` is set (after the
    request's commit); otherwise a ``jobctl worker`` claims it from the table."""
    if setting("JOB_TASKS_BACKEND") is None:
        return
    from batch_jobs.operations import dispatch

    alias = on_control(RunRequest).db
    transaction.on_commit(lambda: dispatch.enqueue(start.pk), using=alias)


def drop_secrets(before, dry_run=False):
    """Take the secret values off start requests requested before ``before`` and still
    pending (no worker ever claimed them), as a lost worker's claim does: such a request is
    refused when claimed, saying so, rather than run without them. How many there were."""
    stale = on_control(RunRequest).filter(
        action=RunRequest.Action.START, handled_at=None, claimed_at=None, requested_at__lt=before
    )
    dropped = 0
    for start in stale.only("pk", "secrets"):
        if any(value is not None for value in (start.secrets or {}).values()):
            if not dry_run:
                on_control(RunRequest).filter(pk=start.pk, claimed_at=None).update(
                    secrets=dict.fromkeys(start.secrets)
                )
            dropped += 1
    return dropped
