"""The ``jobctl`` command line: the click group, its set-up and ``main``. The commands are in
``listing`` (list, describe, history), ``rendering`` (render kubernetes|crontab|systemd),
``control`` (stop, pause, resume, retry, start), ``backfills`` and ``worker`` (worker, output),
thin shells over
``batch_jobs.operations``."""

import contextlib
import sys

import click

from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.redact import escape_controls, redact_text, safe_line, shown


class OneLine(click.ClickException):
    """An error as one line on stderr: redacted, printable and bounded, never a traceback."""

    def format_message(self):
        return safe_line(self.message)


class UsageExit(OneLine):
    """A domain error: one line on stderr and exit 64 (runner misuse)."""

    exit_code = int(ExitCode.RUNNER_MISUSE)


class ConfigExit(OneLine):
    """A configuration error: one line on stderr and exit 78."""

    exit_code = int(ExitCode.CONFIG)


def setup_django(needs_database):
    from django.core.exceptions import ImproperlyConfigured

    from batch_jobs.cli import bootstrap

    try:
        bootstrap.setup(needs_database=needs_database)
    except ImproperlyConfigured as e:
        raise ConfigExit(bootstrap.one_line(e)) from None


def get_job(name):
    from batch_jobs.operations import catalog

    try:
        return catalog.get(name)
    except catalog.UnknownJob as e:
        raise UsageExit(str(e)) from None


def scheduled():
    from batch_jobs.operations import catalog

    found = catalog.scheduled_jobs()
    if not found:
        raise UsageExit("no job declares a schedule; set `schedule` on a JobCommand")
    return found


def say(text, err=False):
    """``click.echo`` for a line that holds recorded or operator-given values: redacted and
    printable (a newline or an escape in a value cannot fake a line or reach the terminal)."""
    click.echo(escape_controls(redact_text(text)), err=err)


def table(rows, headers):
    """Rows as aligned columns; each cell redacted, printable and bounded (``redact.shown``)."""
    rows = [[shown(cell) for cell in r] for r in rows]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for r in [headers, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


CONTEXT = {"help_option_names": ["-h", "--help"]}


class Jobctl(click.Group):
    """The group, keeping the words after the command's name (``ctx.meta["jobctl.words"]``):
    whether the database is needed may depend on an option (``render kubernetes
    --backfills``)."""

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta["jobctl.words"] = list(rest)
        return name, command, rest


def needs_database(ctx):
    words = ctx.meta.get("jobctl.words", [])
    options = words[: words.index("--")] if "--" in words else words
    rendered = ctx.invoked_subcommand == "render" and "--backfills" in options
    return ctx.invoked_subcommand in NEEDS_DATABASE or rendered


@click.group(cls=Jobctl, context_settings=CONTEXT)
@click.version_option(package_name="django-batch-jobs", prog_name="jobctl")
@click.pass_context
def cli(ctx):
    """Schedules of the project's jobs, rendered for Kubernetes, cron and systemd, and the
    history of their runs."""
    if ctx.invoked_subcommand:
        # Listing and rendering read the code, not the database.
        setup_django(needs_database=needs_database(ctx))


@contextlib.contextmanager
def run_records(*aliases, what="the run records"):
    """Reading or writing the run records (and the databases ``aliases``), with the runner's
    exit codes: a database that does not answer (69), wrong credentials, a missing table or
    privilege (78), a transient error (75); each one line, saying it could not read ``what``."""
    from django.core.management.base import CommandError
    from django.db import DEFAULT_DB_ALIAS, DatabaseError

    from batch_jobs.conf import setting
    from batch_jobs.framework.database import wait_for_database
    from batch_jobs.framework.outcome import outcome_of

    try:
        # One attempt, not the runner's wait: an operator is waiting for the answer.
        control = setting("JOB_CONTROL_DATABASE") or DEFAULT_DB_ALIAS
        for alias in dict.fromkeys([control, *aliases]):
            wait_for_database(alias, timeout=0)
        yield
    except CommandError as e:  # from wait_for_database: 69, or 78 for the credentials
        error = OneLine(f"cannot read {what}: {e}")
        error.exit_code = int(e.returncode)
        raise error from None
    except DatabaseError as e:
        outcome = outcome_of(e)  # the same reading of the error as a run's
        error = OneLine(f"cannot read {what}: {outcome.reason}")
        known = outcome.exit_code in (ExitCode.CONFIG, ExitCode.TEMPORARY)
        # What the run records refuse otherwise (a value, a privilege) is the set-up's.
        error.exit_code = int(outcome.exit_code if known else ExitCode.CONFIG)
        raise error from None


NEEDS_DATABASE = {
    "history",
    "stop",
    "pause",
    "resume",
    "retry",
    "start",
    "worker",
    "output",
    "backfills",
}


def main():
    from batch_jobs.cli.job import redacted_traceback
    from batch_jobs.framework.stop import OutputClosed, guard_stdout

    sys.excepthook = redacted_traceback  # a bug's traceback, redacted, as job's and manage's
    guard_stdout()
    try:
        cli(prog_name="jobctl")
    except OutputClosed:
        # The reader went away (`jobctl history | head`): quietly, as SIGPIPE would end it,
        # not click's exit 1 (a bug, in the exit-code contract).
        sys.exit(int(ExitCode.OUTPUT_CLOSED))


# The commands register themselves on ``cli`` when their modules are imported.
from batch_jobs.cli.jobctl import backfills, control, listing, rendering, worker  # noqa: E402, F401
