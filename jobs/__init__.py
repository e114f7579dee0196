"""django-batch-jobs: Django management commands as batch jobs that cron, Kubernetes and CI
can trust.

What a job author imports comes from here, and only from here::

    from jobs import CommandError, ExitCode, JobCommand, update_rows

Everything else (``jobs.framework.*``, ``jobs.runner``, ``jobs.ctl``) may change between
releases.
"""

import importlib

__version__ = "0.2.0"

#: name -> module it lives in. Loaded on first use: ``jobs`` is imported while the app
#: registry is being populated, before models (which ``JobCommand`` needs) can load.
_PUBLIC = {
    "JobCommand": "jobs.framework.command",
    "CommandError": "django.core.management.base",
    "ExitCode": "jobs.exitcodes",
    "update_rows": "jobs.framework.walk",
    "Batch": "jobs.framework.walk",
    "JobStopped": "jobs.framework.stop",
    "bounded": "jobs.framework.arguments",
    "positive_int": "jobs.framework.arguments",
    "positive_seconds": "jobs.framework.arguments",
    "non_negative_seconds": "jobs.framework.arguments",
}

__all__ = list(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_PUBLIC])
