"""System checks of the framework's settings: ``manage.py check`` lists what is wrong."""

from django.core import checks

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
