"""``jobctl worker`` (runs the requested runs, through ``batch_jobs.operations.dispatch``) and
``jobctl output`` (what a run printed last, from its record)."""

import resource
import sys
import time

import click

from batch_jobs.cli.jobctl import ConfigExit, OneLine, cli, run_records, say
from batch_jobs.exitcodes import ExitCode


@cli.command()
@click.option(
    "--drain",
    is_flag=True,
    help="Run what is pending, then exit (0) instead of waiting for more: for a CronJob or "
    "a timer every minute.",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1, max=3600),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait between looks for new requests when none is pending.",
)
def worker(drain, poll):
    """Run the runs requested from the console or `jobctl retry`'s pending retries (start
    and retry requests), oldest first, one at a time, each as its own `job NAME ARGS`
    process. Any number of workers may run: a request goes to one of them only.

    SIGTERM or SIGINT stops the worker gracefully: the job it runs gets the signal, stops at
    its next batch boundary, and its request goes back to pending, so that the next worker
    resumes it from its checkpoint. Exits 0 after --drain (whatever the jobs' exit codes:
    each is in its run record and its request), 143 or 130 when stopped by SIGTERM or
    SIGINT, 69, 75 or 78 when the database cannot be used (without --drain, a database that
    goes away is waited for), 78 when the `job` script cannot be started."""
    from batch_jobs.operations.dispatch import Dispatcher, RunnerMissing, alert_stderr

    dispatcher = Dispatcher(
        out=lambda line: say(f"jobctl worker: {line}", err=True),
        alert=alert_stderr("jobctl worker: "),
    )
    dispatcher.listening()
    say(
        f"jobctl worker: {dispatcher.by}: " + ("draining" if drain else "waiting for requests"),
        err=True,
    )
    try:
        while True:
            try:
                with run_records():
                    dispatcher.run_pending(poll=None if drain else poll)
                break
            except OneLine as e:
                if drain or e.exit_code == ExitCode.CONFIG:
                    raise
                # A database that went away: say so, and look again after the poll, on a new
                # connection.
                from django.db import connections

                connections.close_all()
                say(f"jobctl worker: {e.format_message()}; looking again in {poll:g}s", err=True)
                dispatcher.wait(poll)
                if dispatcher.stopping is not None:
                    break
    except RunnerMissing as e:
        raise ConfigExit(str(e)) from None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    say(
        f"jobctl worker: {dispatcher.by}: ran {dispatcher.handled} request(s); "
        f"peak memory {peak / 1024:.1f} MiB",
        err=True,
    )
    if dispatcher.stopping is not None:
        raise SystemExit(int(ExitCode.for_signal(dispatcher.stopping)))


@cli.command()
@click.argument("run_id", metavar="RUN", type=click.IntRange(min=1))
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep printing new lines while the run goes on (they come with its progress saves); "
    "stop at its end.",
)
@click.option(
    "--stream",
    type=click.Choice(["stdout", "stderr", "both"]),
    default="both",
    show_default=True,
    help="Which of the run's streams to print.",
)
def output(run_id, follow, stream):
    """Print the last lines run RUN printed (its record keeps JOB_OUTPUT_LINES of them),
    stdout on stdout and stderr on stderr, redacted as recorded; then, for a run that ended
    with an error, that error, as its record keeps it."""
    from batch_jobs.framework.redact import shown as cell
    from batch_jobs.operations.control import Refused, get_run
    from batch_jobs.operations.history import output_since

    shown = 0
    while True:
        with run_records():
            try:
                run = get_run(run_id)
            except Refused as e:
                from batch_jobs.cli.jobctl import UsageExit

                raise UsageExit(str(e)) from None
        lines, shown = output_since(run.output, shown)
        for name, line in lines:
            if name is None or stream in ("both", name):
                say(line, err=name != "stdout")  # printable whatever the record holds
        sys.stdout.flush()
        if run.status != run.Status.RUNNING and run.error and stream != "stdout":
            click.echo(f"error: {cell(run.error)}", err=True)
        if not follow or run.status != run.Status.RUNNING:
            return
        time.sleep(1.0)
