"""Which management commands ``job`` may run, and why a name is refused."""

import difflib
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
