"""Which management commands ``job`` may run, and why a name is refused."""

import contextlib
import difflib
import io
import re

from django.apps import apps
from django.core.management import get_commands, load_command_class

from batch_jobs.conf import setting

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")

# Options that would make Django import code named on the command line.
FORBIDDEN_OPTIONS = ("--settings", "--pythonpath")


class Refused(Exception):
    """A job name or option the runner will not run (exit 64)."""


def runnable_commands():
    """``{name: app}`` of every command ``job`` may run: the jobs (``JobCommand`` subclasses)
    of ``JOB_APPS`` (every installed app when unset), plus ``JOB_ALLOWED_COMMANDS``."""
    return {name: app for name, app in get_commands().items() if runnable(name, app)}


def runnable(name, app):
    if name in setting("JOB_ALLOWED_COMMANDS"):
        return True
    job_apps = setting("JOB_APPS")
    if job_apps is None:
        # Django's own apps hold no jobs; skipping them spares loading their commands.
        in_scope = app != "django.core" and not app.startswith("django.contrib.")
    else:
        in_scope = app in {
            c.name for c in apps.get_app_configs() if {c.name, c.label} & set(job_apps)
        }
    return in_scope and is_job(load_command_class(app, name))


def is_job(command):
    from batch_jobs.framework.command import JobCommand

    return isinstance(command, JobCommand)


def check_name(name):
    """Refuse a name that is not a plain command name (before Django is even loaded)."""
    if not NAME_PATTERN.fullmatch(name):
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise Refused(f"invalid job name {shown!r}: names match ^[a-z][a-z0-9_]{{0,63}}$")


def check_options(args):
    """Refuse ``--settings``/``--pythonpath`` in any spelling argparse would accept."""
    for arg in args:
        if arg == "--":
            return
        option = arg.split("=", 1)[0]
        if len(option) > 2 and any(f.startswith(option) for f in FORBIDDEN_OPTIONS):
            raise Refused(
                f"option {option} is not accepted by the job runner: set "
                "DJANGO_SETTINGS_MODULE (and PYTHONPATH, or run from the project's directory) "
                "in the environment instead"
            )


def resolve(name):
    """The app that provides runnable command ``name``, or ``Refused`` saying why not."""
    check_name(name)
    commands = get_commands()
    if name in commands:
        if runnable(name, commands[name]):
            return commands[name]
        raise Refused(
            f"{name} is not allowlisted for the job runner; add it to JOB_ALLOWED_COMMANDS "
            "to run it"
        )
    hint = did_you_mean(name, runnable_commands()) or "; `job --list` shows the jobs"
    raise Refused(f"unknown job {name!r}{hint}")


def check_destructive(name, command, args):
    """Refuse a run of allowlisted command ``name`` that would drop or rewrite data, unless
    ``JOB_ALLOW_DESTRUCTIVE``. Decided before it runs, from what it would do; arguments the
    command itself would refuse are left to it (exit 2)."""
    danger = DESTRUCTIVE.get(name)
    if danger is None or setting("JOB_ALLOW_DESTRUCTIVE"):
        return
    options = parsed(command, name, args)
    reason = danger(options) if options is not None else None
    if reason:
        raise Refused(
            f"{name} {reason}: refused as destructive; set JOB_ALLOW_DESTRUCTIVE = True in "
            "the settings to allow it"
        )


def parsed(command, name, args):
    """``args`` as ``command``'s parser reads them, or ``None`` when it refuses them (or
    they ask for its help): the command then says so itself when it runs."""
    from django.core.management.base import CommandError

    parser = command.create_parser("job", name)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return vars(parser.parse_args(args))
    except (CommandError, SystemExit):
        return None


#: Options of ``migrate`` that rewrite what the database records as applied without doing it.
_REWRITES_HISTORY = {"fake": "--fake", "fake_initial": "--fake-initial", "prune": "--prune"}


def migrate_danger(options):
    """Why ``migrate`` with ``options`` would drop or rewrite data, or ``None``: a plan with
    a backward step (unapplying a migration drops what it created: ``migrate store zero``),
    or an option that rewrites the migration history. ``--plan`` and ``--check`` write
    nothing."""
    if options.get("plan") or options.get("check_unapplied"):
        return None
    for option, flag in _REWRITES_HISTORY.items():
        if options.get(option):
            return f"with {flag} would rewrite the migration history without migrating"
    backward = [f"{app}.{migration}" for app, migration in backward_steps(options)]
    if backward:
        shown = ", ".join(backward[:3]) + (
            f" and {len(backward) - 3} more" if len(backward) > 3 else ""
        )
        return f"would unapply {len(backward)} migration(s) ({shown}), dropping their data"
    return None


def backward_steps(options):
    """``[(app, migration)]`` that ``migrate`` with ``options`` would unapply, read from the
    migration graph and the database's history as ``migrate`` reads them; ``[]`` when it
    cannot tell (an unknown app or migration, a database it cannot read): ``migrate`` then
    fails on the same problem before it changes anything."""
    from django.db import DatabaseError, connections
    from django.db.migrations.exceptions import AmbiguityError
    from django.db.migrations.executor import MigrationExecutor

    app, name = options.get("app_label"), options.get("migration_name")
    if not (app and name):
        return []  # forwards to the leaf nodes: nothing goes backward
    try:
        executor = MigrationExecutor(connections[options.get("database") or "default"])
        if name == "zero":
            target = (app, None)
        else:
            target = (app, executor.loader.get_migration_by_prefix(app, name).name)
            if target not in executor.loader.graph.nodes and target in executor.loader.replacements:
                target = executor.loader.replacements[target].replaces[-1]
        plan = executor.migration_plan([target])
    except (AmbiguityError, KeyError, LookupError, DatabaseError):
        return []
    return [(m.app_label, m.name) for m, backwards in plan if backwards]


#: Allowlisted commands that can drop or rewrite data, each with the test of its options
#: that says why (``None``: this run would not).
DESTRUCTIVE = {"migrate": migrate_danger}


def did_you_mean(name, names):
    """``"; did you mean X?"`` for the closest of ``names``, or ``""``."""
    close = difflib.get_close_matches(name, names, n=1)
    return f"; did you mean {close[0]}?" if close else ""


def first_line(command):
    """The first line of a command's help, ``""`` when it has none."""
    lines = (command.help or "").strip().splitlines()
    return lines[0] if lines else ""


def describe(name, app):
    """The first line of command ``name``'s help."""
    return first_line(load_command_class(app, name))
