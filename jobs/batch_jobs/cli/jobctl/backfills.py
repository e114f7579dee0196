"""``jobctl backfills``: every migration gate and its backfill's state, with an exit code a
deploy pipeline can wait on (0: nothing blocks ``migrate``; 75: try again later)."""

import click

from batch_jobs.cli.jobctl import OneLine, cli, run_records, say, table
from batch_jobs.exitcodes import ExitCode


class Blocked(OneLine):
    """A pending migration waits on a backfill: one line on stderr and exit 75."""

    exit_code = int(ExitCode.TEMPORARY)


def database_option(command=None, *, help_prefix="", default="default"):
    """--database, shared by ``backfills`` and ``render kubernetes --backfills``."""

    def decorate(command):
        return click.option(
            "--database",
            metavar="ALIAS",
            default=default,
            help=f"{help_prefix}Database alias whose migrations to read, as "
            "`manage.py migrate --database` (default: default).",
        )(command)

    return decorate(command) if command is not None else decorate


def read_gates(database):
    """The gates on alias ``database``, an unknown alias refused in one line (exit 64)."""
    from django.db import connections

    from batch_jobs.cli.jobctl import ConfigExit, UsageExit
    from batch_jobs.operations import backfills

    database = "default" if database is None else database
    if database not in connections:
        known = ", ".join(sorted(connections))
        raise UsageExit(f"no database {database!r} in DATABASES (known: {known})")
    try:
        with run_records(database, what="the migrations and the run records"):
            return backfills.gates(using=database)
    except backfills.BadGate as e:
        raise ConfigExit(f"migration gate {e}; see `manage.py check`") from None


@cli.command()
@database_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def backfills(database, as_json):
    """List the migration gates (RequireJob) with their backfills' states.

    Each gate is listed with its migration (applied, or pending), its job and arguments, and
    the state of the job: finished, running (with progress and ETA), paused, failed,
    interrupted, or never run. Exits 0 when no pending migration waits on a backfill, and 75
    (try again later) when one does, so that a deploy pipeline can wait on it:
    `until jobctl backfills; do test $? -eq 75 || exit 1; sleep 60; done`. Run it with the
    code of the release whose migrations carry the gates, before its migrate.
    """
    from batch_jobs.framework.gates import what_to_run
    from batch_jobs.operations import backfills as operations

    found = read_gates(database)
    if as_json:
        click.echo(operations.as_json(found))
    elif not found:
        click.echo("no migration gates (RequireJob) in the project's migrations")
    else:
        table([operations.row(gate) for gate in found], operations.HEADERS)
    blocked = [gate for gate in found if gate.blocks]
    if blocked:
        first = blocked[0]
        more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
        raise Blocked(
            f"migration {first.key} waits on backfill {first.job}: {first.line}{more}; "
            f"{what_to_run(first.state)}, then try again"
        )
    if found and not as_json:
        say("no pending migration waits on a backfill")
