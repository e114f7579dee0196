"""``jobctl stop``, ``pause``, ``resume``, ``retry`` and ``start``: operators' requests,
written by ``batch_jobs.operations.control``."""

import contextlib
import subprocess
import sys
from pathlib import Path

import click

from batch_jobs.cli.jobctl import (
    CONTEXT,
    ConfigExit,
    UsageExit,
    cli,
    get_job,
    run_records,
    say,
)
from batch_jobs.framework.redact import has_control


class Operator(click.ParamType):
    """Who asks, as the records keep it: text that fits the ``*_by`` columns, without
    control characters (a line break would fake rows in ``jobctl history``), valid UTF-8
    (an argument that is not arrives with lone surrogates, which no database stores)."""

    name = "NAME"

    def convert(self, value, param, ctx):
        limit = by_limit()
        if not value.strip():
            self.fail("must name who asks, not an empty string", param, ctx)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("must be valid UTF-8 text", param, ctx)
        if has_control(value):
            self.fail("must not hold control characters or line breaks", param, ctx)
        if len(value) > limit:
            self.fail(f"must be {limit} characters at most, not {len(value)}", param, ctx)
        return value


def by_limit():
    """The length of the records' ``*_by`` columns (``requested_by``, ``paused_by``...)."""
    from batch_jobs.models import RunRequest

    return RunRequest._meta.get_field("requested_by").max_length


def by_option(command):
    """--by, shared by the run-control commands: who asks, recorded with the request."""

    def default():
        from batch_jobs.operations.control import operator

        return operator()[: by_limit()]

    return click.option(
        "--by",
        default=default,
        type=Operator(),
        show_default="USER@HOST",
        help="Who asks (recorded): 150 characters at most, no control characters.",
    )(command)


@contextlib.contextmanager
def refusals():
    from batch_jobs.operations.control import Refused

    with run_records():
        try:
            yield
        except Refused as e:
            raise UsageExit(str(e)) from None


@cli.command()
@click.argument("run_id", metavar="RUN", type=click.IntRange(min=1))
@by_option
def stop(run_id, by):
    """Ask a running run to stop at its next batch boundary (it exits 3, keeping its
    checkpoint)."""
    from batch_jobs.operations.control import stop as request_stop

    with refusals():
        run = request_stop(run_id, by)
    say(f"asked run {run.pk} ({run.job} on {run.host}) to stop at its next batch boundary")


@cli.command()
@click.argument("name")
@by_option
def pause(name, by):
    """Pause a job: its run in flight stops at its next batch boundary, and later runs do
    nothing (exit 0) until it is resumed."""
    from batch_jobs.operations.control import pause as request_pause

    get_job(name)
    with refusals():
        paused, created = request_pause(name, by)
    if created:
        click.echo(f"paused {name}; `jobctl resume {name}` lets it go on from its checkpoint")
    else:
        say(f"{name} was already paused by {paused.paused_by}")


@cli.command()
@click.argument("name")
@by_option
def resume(name, by):
    """Resume a paused job: its next run goes on from its checkpoint."""
    from batch_jobs.operations.control import resume as request_resume

    get_job(name)
    with refusals():
        was_paused = request_resume(name, by)
    click.echo(f"resumed {name}" if was_paused else f"{name} was not paused")


@cli.command()
@click.argument("run_id", metavar="RUN", type=click.IntRange(min=1), required=False)
@click.option(
    "--pending", is_flag=True, help="Run every retry requested from the console, oldest first."
)
@by_option
def retry(run_id, pending, by):
    """Run a failed, stopped or interrupted run's job again with the same arguments, here;
    it resumes from its checkpoint. Exits with the job's exit code (with --pending, the last
    non-zero one)."""
    from batch_jobs.operations.control import pending_retries, retry_words

    if (run_id is None) == (not pending):
        raise click.UsageError("give a RUN or --pending, not both")
    if pending:
        with run_records():
            # Not those a worker has claimed: it runs them.
            waiting = pending_retries().filter(claimed_at=None)
            requested = [(r.run_id, r.requested_by) for r in waiting if r.run_id]
        if not requested:
            click.echo("no retry is pending", err=True)
        code = 0
        for requested_run, requested_by in requested:
            with refusals():
                words = retry_words(requested_run, by)
            say(f"retrying run {requested_run} (asked by {requested_by})", err=True)
            code = run_job(words) or code
        raise SystemExit(code)
    with refusals():
        words = retry_words(run_id, by)
    say(f"retrying run {run_id}: job {' '.join(words)}", err=True)
    raise SystemExit(run_job(words))


@cli.command(context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@by_option
def start(name, args, by):
    """Ask a worker (`jobctl worker`, or the JOB_TASKS_BACKEND task worker) to run job NAME
    with ARGS, as the console's Run form does; put -- before ARGS that start with a dash.
    The arguments are checked with the job's own parser first: what `job` would refuse is
    refused here (exit 64, the parser's message) and nothing is recorded."""
    from batch_jobs.operations.control import request_start

    get_job(name)
    with refusals():
        requested = request_start(name, list(args), by)
    shown_argv = " ".join(requested.argv)
    say(f"requested {name} {shown_argv}".rstrip() + f" (request {requested.pk}); a worker runs it")


def run_job(words):
    """Run ``job WORDS`` here, beside this jobctl; its exit code."""
    runner = Path(sys.executable).parent / "job"
    try:
        return subprocess.call([str(runner), *words])
    except OSError as e:
        raise ConfigExit(f"cannot run the job runner {runner}: {e.strerror}") from None
