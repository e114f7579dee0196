"""App config of the job framework."""

import logging

from django.apps import AppConfig
from django.core import checks


class JobsConfig(AppConfig):
    # Import name, label and tables all say batch_jobs, so that a project's own `jobs` app
    # (a job board has one) keeps its name.
    name = "batch_jobs"
    label = "batch_jobs"
    verbose_name = "Batch jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from batch_jobs.checks import check_databases, check_job_declarations, check_settings
        from batch_jobs.framework.gates import check_gates
        from batch_jobs.framework.logs import JobLogHandler

        checks.register(check_settings, "batch_jobs")
        checks.register(check_databases, "batch_jobs")
        checks.register(check_job_declarations, "batch_jobs")
        checks.register(check_gates, "batch_jobs")
        # Job events are the runner's output. Unless the project's LOGGING configures the
        # `batch_jobs` logger, they go at INFO where the run writes (stderr from the command
        # line, call_command's stderr=), whatever the root logger does.
        logger = logging.getLogger("batch_jobs")
        if not logger.handlers and logger.level == logging.NOTSET:
            logger.addHandler(JobLogHandler())
            logger.setLevel(logging.INFO)
            logger.propagate = False
