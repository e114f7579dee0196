"""django-batch-jobs: Django management commands as batch jobs that cron, Kubernetes and CI
can trust.

What a job author imports comes from here, and only from here::

    from batch_jobs import CommandError, ExitCode, JobCommand, update_rows

in a migration that waits for a backfill, ``from batch_jobs import RequireJob``,

and, in its tests, ``from batch_jobs.testing import process_batch, run_job, stop_after``.

Everything else (``batch_jobs.framework``, ``batch_jobs.operations``, ``batch_jobs.cli``,
``batch_jobs.console``) may change between releases.
"""

import importlib

__version__ = "0.3.0"

#: name -> module it lives in. Loaded on first use: ``batch_jobs`` is imported while the app
#: registry is being populated, before models (which ``JobCommand`` needs) can load.
_PUBLIC = {
    "JobCommand": "batch_jobs.framework.command",
    "CommandError": "django.core.management.base",
    "ExitCode": "batch_jobs.exitcodes",
    "update_rows": "batch_jobs.framework.writes",
    "Batch": "batch_jobs.framework.walk",
    "JobStopped": "batch_jobs.framework.stop",
    "bounded": "batch_jobs.framework.arguments",
    "positive_int": "batch_jobs.framework.arguments",
    "positive_seconds": "batch_jobs.framework.arguments",
    "non_negative_seconds": "batch_jobs.framework.arguments",
    "Secret": "batch_jobs.framework.redact",
    "email_address": "batch_jobs.framework.arguments",
    "RequireJob": "batch_jobs.framework.gates",
    "StoredFile": "batch_jobs.framework.arguments",
}

__all__ = list(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_PUBLIC])
