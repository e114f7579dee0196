"""System checks of the framework's settings and jobs: ``manage.py check`` lists what is
wrong."""

from django.conf import settings
from django.core import checks
from django.db import DEFAULT_DB_ALIAS, connections

from batch_jobs import conf
from batch_jobs.backends import backend_for, first_class

#: A database that gets the generic fallbacks (neither PostgreSQL nor SQLite).
DEGRADED_DATABASE = "batch_jobs.W002"


def check_settings(app_configs=None, **kwargs):
    """An error per bad setting value, with the setting's own fixed id (``conf.SETTINGS``),
    so that SILENCED_SYSTEM_CHECKS can name one."""
    return [
        checks.Error(
            message,
            hint="See the configuration table in the django-batch-jobs README.",
            id=conf.BY_NAME[name].id,
        )
        for name, message in conf.problems()
    ]


#: A job that declares with 0.2's flat class attributes, which 0.3 no longer reads.
FLAT_DECLARATION = "batch_jobs.W001"


def check_job_declarations(app_configs=None, **kwargs):
    from django.core.management import load_command_class

    from batch_jobs.framework import declaration
    from batch_jobs.framework.command import JobCommand
    from batch_jobs.operations.allowlist import runnable_commands

    try:
        runnable = sorted(runnable_commands().items())  # the jobs `job` may run
    except Exception:  # a command that does not load: `job <name>` and `job --list` say so
        return []
    found = []
    for name, app in runnable:
        command = load_command_class(app, name)
        if not isinstance(command, JobCommand):
            continue
        if flat := declaration.flat_attributes(type(command)):
            names = ", ".join(flat)
            found.append(
                checks.Warning(
                    f"job {name} sets {names} as a plain class attribute; "
                    "django-batch-jobs 0.3 reads its declarations only from the nested "
                    "`class Job:`",
                    hint=f"Move {names} into `class Job:` inside the command (or, if the "
                    "attribute is the command's own, silence this check).",
                    obj=type(command),
                    id=FLAT_DECLARATION,
                )
            )
    return found


def check_databases(app_configs=None, **kwargs):
    """A warning per database the jobs use (the default one and JOB_CONTROL_DATABASE) that
    has no backend of its own here, naming what degrades on it."""
    aliases = [DEFAULT_DB_ALIAS]
    # Read as it is: a bad value of another setting is check_settings' error, not ours.
    control = getattr(settings, "JOB_CONTROL_DATABASE", None)
    if isinstance(control, str) and control != DEFAULT_DB_ALIAS:
        aliases.append(control)
    found = []
    for alias in aliases:
        if alias not in settings.DATABASES:
            continue
        connection = connections[alias]
        if first_class(connection):
            continue
        degraded = "; ".join(backend_for(connection).degraded)
        found.append(
            checks.Warning(
                f"DATABASES[{alias!r}] is {connection.display_name} "
                f"({connection.settings_dict['ENGINE']}), which batch_jobs supports with generic "
                f"fallbacks only: {degraded}.",
                hint="PostgreSQL gets every feature, SQLite what one machine needs; see "
                "'Databases and drivers' in the django-batch-jobs README.",
                id=DEGRADED_DATABASE,
            )
        )
    return found
