"""``jobctl list``, ``describe`` and ``history``: the catalog of jobs and their runs."""

import json

import click

from batch_jobs.cli.jobctl import cli, get_job, run_records, say, table


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def list_jobs(as_json):
    """List the jobs with their schedules and one-line help."""
    from batch_jobs.operations import catalog

    found = catalog.jobs()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"name": j.name, "schedule": j.schedule, "timezone": j.timezone, "help": j.help}
                    for j in found
                ],
                indent=2,
            )
        )
        return
    table([[j.name, j.schedule or "-", j.help] for j in found], ["NAME", "SCHEDULE", "HELP"])


@cli.command()
@click.argument("name")
def describe(name):
    """Show a job's help, arguments, schedule, lock behaviour and next five runs."""
    from batch_jobs.framework.schedule import next_runs

    job = get_job(name)
    command = job.command
    declared = command._batch_job
    click.echo(f"{job.name}: {job.help}")
    click.echo(f"schedule: {job.schedule or 'none (run on demand)'}")
    if job.schedule:
        click.echo(f"time zone: {job.timezone or 'UTC'}")
        click.echo(f"scheduled arguments: {' '.join(job.scheduled_args) or '(none)'}")
        click.echo("next runs:")
        for when in next_runs(job.schedule, job.timezone):
            click.echo(f"  {when.isoformat()}")
    if declared.lock:
        widened = f", widened by {', '.join(declared.lock_args)}" if declared.lock_args else ""
        click.echo(
            f"lock: one run at a time{widened}; a second exits 75 (0 with --skip-if-running)"
        )
    else:
        click.echo("lock: none (runs may overlap)")
    say(f"paused: {pause_state(job.name)}")
    if declared.batch_size:
        say(f"checkpoint: {pending_checkpoint(job.name)}")
    click.echo(f"max runtime: {f'{declared.max_runtime}s' if declared.max_runtime else 'none'}")
    click.echo(f"retries: {declared.retries}; stop grace period: {declared.stop_grace_seconds}s")
    deadline = command.database_deadline
    click.echo(
        f"database deadline: {f'{deadline:g}s per batch or statement' if deadline else 'none'}"
    )
    click.echo("")
    click.echo(command.create_parser("job", job.name).format_help().rstrip())


def pause_state(name):
    """Whether job ``name`` is paused; describe works without a database."""
    from django.db import DatabaseError

    from batch_jobs.framework.errors import one_line
    from batch_jobs.operations.control import paused

    try:
        pause = paused(name)
    except DatabaseError as e:
        return f"unknown (cannot read the pauses: {one_line(e)})"
    if pause is None:
        return "no"
    return f"yes, by {pause.paused_by} at {pause.paused_at:%Y-%m-%d %H:%M:%S %Z}"


def pending_checkpoint(name):
    """Where an unfinished walk of job ``name`` stands; describe works without a database."""
    from django.db import DatabaseError

    from batch_jobs.framework.errors import one_line
    from batch_jobs.operations.history import checkpoints

    try:
        pending = checkpoints(name)
    except DatabaseError as e:
        return f"unknown (cannot read the checkpoints: {one_line(e)})"
    if not pending:
        return "none (the next run starts from the top)"
    resume = "the next run with the same arguments resumes there; --restart starts over"
    return "; ".join(pending) + f" ({resume})"


@cli.command()
@click.argument("name", required=False)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many runs to show.",
)
def history(name, limit):
    """Show recent runs from the run records, newest first."""
    from batch_jobs.operations.history import HEADERS, recent_runs, row

    if name:
        get_job(name)
    with run_records():
        runs = recent_runs(name, limit)
    if not runs:
        click.echo("no runs recorded" + (f" for {name}" if name else ""))
        return
    table([row(r) for r in runs], HEADERS)
