"""System checks of the framework's settings and jobs: ``manage.py check`` lists what is
wrong."""

from django.core import checks
from django.core.management import get_commands, load_command_class

from batch_jobs import conf

#: One id per setting, so that SILENCED_SYSTEM_CHECKS can name one.
IDS = {name: f"batch_jobs.E{number:03d}" for number, name in enumerate(conf.DEFAULTS, 1)}


def check_settings(app_configs=None, **kwargs):
    return [
        checks.Error(
            message,
            hint="See the configuration table in the django-batch-jobs README.",
            id=IDS[name],
        )
        for name, message in conf.problems()
    ]


#: A job that declares with 0.2's flat class attributes, which 0.3 no longer reads.
FLAT_DECLARATION = "batch_jobs.W001"


def check_job_declarations(app_configs=None, **kwargs):
    from batch_jobs.framework import declaration
    from batch_jobs.framework.command import JobCommand

    found = []
    for name, app in sorted(get_commands().items()):
        if app == "django.core" or app.startswith("django.contrib."):
            continue  # Django's own apps hold no jobs
        try:
            command = load_command_class(app, name)
        except Exception:  # not ours to report: `manage.py <name>` shows it
            continue
        if not isinstance(command, JobCommand):
            continue
        if flat := declaration.flat_attributes(type(command)):
            names = ", ".join(flat)
            found.append(
                checks.Warning(
                    f"job {name} sets {names} as a plain class attribute; django-batch-jobs "
                    "0.3 reads its declarations only from the nested `class Job:`",
                    hint=f"Move {names} into `class Job:` inside the command (or, if the "
                    "attribute is the command's own, silence this check).",
                    obj=type(command),
                    id=FLAT_DECLARATION,
                )
            )
    return found
