"""Which management commands ``job`` may run, and why a name is refused."""

import difflib
import re

from django.conf import settings
from django.core.management import get_commands, load_command_class

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")

# Options that would make Django import code named on the command line.
FORBIDDEN_OPTIONS = ("--settings", "--pythonpath")


class Refused(Exception):
    """A job name or option the runner will not run (exit 64)."""


def runnable_commands():
    """``{name: app}`` of every command ``job`` may run: all of ``JOB_APPS``' commands plus
    ``JOB_ALLOWED_COMMANDS``."""
    commands = get_commands()
    job_apps = set(settings.JOB_APPS)
    allowed = set(settings.JOB_ALLOWED_COMMANDS)
    return {name: app for name, app in commands.items() if app in job_apps or name in allowed}


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
                f"option {option} is not accepted by the job runner: configure the image "
                "through environment variables instead"
            )


def resolve(name):
    """The app that provides runnable command ``name``, or ``Refused`` saying why not."""
    check_name(name)
    runnable = runnable_commands()
    if name in runnable:
        return runnable[name]
    if name in get_commands():
        raise Refused(
            f"{name} is not allowlisted for the job runner; add it to JOB_ALLOWED_COMMANDS "
            "to run it"
        )
    hint = did_you_mean(name, runnable) or "; `job --list` shows the jobs"
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
