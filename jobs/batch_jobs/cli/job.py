"""The ``job`` console script and the ``manage.py`` wrapper.

    job <name> [args...]   run management command <name>, exactly as manage.py would
    job --list             the runnable jobs, one per line with its one-line help
    job --help             usage

Exit codes follow ``batch_jobs.exitcodes``: 64 for runner misuse, 78 for configuration errors, and
the job's own status otherwise. ``DJANGO_SETTINGS_MODULE`` names the project's settings.
"""

import sys
import traceback

from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.redact import safe_line, safe_lines

USAGE = """\
usage: job <name> [args...]
       job --list
       job --help

Run the management command <name> with [args...], as `manage.py <name> [args...]` would,
with the job runner's checks: only allowlisted commands run, and --settings/--pythonpath are
refused. `job <name> --help` shows a job's own options.

Exit codes: 0 ok, 1 bug, 2 bad arguments, 64 runner misuse, 65 bad input data,
69 database unreachable, 75 temporary failure (retry), 78 configuration error,
130/143 stopped by SIGINT/SIGTERM, 141 standard output closed (its reader went away).
"""


def fail(code, message):
    sys.stderr.write(f"job: error: {safe_line(message)}\n")
    return int(code)


def redacted_traceback(kind, error, tb):
    """``sys.excepthook``: a bug's traceback (exit 1), redacted, each line printable."""
    sys.stderr.write(safe_lines("".join(traceback.format_exception(kind, error, tb))))


def list_jobs():
    from batch_jobs.operations.allowlist import describe, runnable_commands

    commands = sorted(runnable_commands().items())
    width = max(len(name) for name, _ in commands)
    for name, app in commands:
        sys.stdout.write(f"{name:<{width}}  {describe(name, app)}\n")
    return 0


def run(name, args):
    from django.core.management import load_command_class

    from batch_jobs.framework.command import RedactedOutput
    from batch_jobs.operations.allowlist import Refused, check_destructive, resolve

    try:
        command = load_command_class(resolve(name), name)
        check_destructive(name, command, args)
    except Refused as e:
        return fail(ExitCode.RUNNER_MISUSE, str(e))
    # Any command's messages (migrate's CommandError too) go out redacted and printable.
    command.stderr = RedactedOutput.replacing(command.stderr)
    # run_from_argv turns CommandError into its returncode and argparse errors into 2.
    command.run_from_argv(["job", name, *args])
    return 0


def main(argv=None):
    """Entry point of the ``job`` console script."""
    from batch_jobs.framework.stop import OutputClosed, guard_stdout

    sys.excepthook = redacted_traceback
    guard_stdout()
    try:
        code = dispatch(sys.argv[1:] if argv is None else argv)
        sys.stdout.flush()  # a closed stdout is found here, not in the flush at exit
        return code
    except OutputClosed:
        # The reader went away (`job --list | head -n1`): quietly, as SIGPIPE would end it.
        # A job's run has recorded it and said so in one line already.
        return int(ExitCode.OUTPUT_CLOSED)


def dispatch(argv):
    if not argv:
        sys.stderr.write(USAGE)
        return int(ExitCode.RUNNER_MISUSE)
    first, rest = argv[0], argv[1:]
    if first in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0

    from batch_jobs.operations.allowlist import Refused, check_name, check_options

    try:
        if first != "--list":
            check_name(first)
            check_options(rest)
        elif rest:
            raise Refused("--list takes no arguments")
    except Refused as e:
        return fail(ExitCode.RUNNER_MISUSE, str(e))
    from django.core.exceptions import ImproperlyConfigured

    from batch_jobs.cli import bootstrap

    try:
        # Listing touches no database, so it works in an image not yet given DATABASE_URL.
        bootstrap.setup(needs_database=first != "--list")
        return list_jobs() if first == "--list" else run(first, rest)
    except ImproperlyConfigured as e:  # settings, or a job's own declaration
        return fail(ExitCode.CONFIG, bootstrap.one_line(e))


def manage(argv):
    """A project's ``manage.py``: Django's command line, with configuration errors as exit 78."""
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    from batch_jobs.cli import bootstrap
    from batch_jobs.framework.stop import OutputClosed, guard_stdout

    sys.excepthook = redacted_traceback
    guard_stdout()
    try:
        execute_from_command_line(argv)
        sys.stdout.flush()
    except ImproperlyConfigured as e:
        return fail(ExitCode.CONFIG, bootstrap.one_line(e))
    except OutputClosed:
        return int(ExitCode.OUTPUT_CLOSED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
