"""Schedules declared on jobs: validation when the job is loaded, and the next run times."""

import datetime
import zoneinfo

from croniter import croniter
from django.core.exceptions import ImproperlyConfigured

# The macros Kubernetes and cron both accept, as the five fields they stand for.
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def expand(expression):
    """The five cron fields of ``expression`` (a macro stands for its fields)."""
    return MACROS.get(expression.strip(), expression.strip())


def validate(job, expression, timezone_name):
    """Raise ``ImproperlyConfigured`` naming ``job`` when the schedule cannot be used."""
    # Fields apart by spaces only: a newline or a tab would pass croniter, and split a
    # crontab line or a unit directive.
    printable = isinstance(expression, str) and expression.isprintable()
    fields = expand(expression).split() if printable else []
    if len(fields) != 5 or not croniter.is_valid(" ".join(fields)):
        raise ImproperlyConfigured(
            f"job {job}: schedule {expression!r} is not a five-field cron expression "
            "(minute hour day-of-month month day-of-week, or @daily and the like)"
        )
    if timezone_name is not None:
        try:
            if not (isinstance(timezone_name, str) and timezone_name.isprintable()):
                raise ValueError(timezone_name)
            zoneinfo.ZoneInfo(timezone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ImproperlyConfigured(
                f"job {job}: schedule_timezone {timezone_name!r} is not an IANA time zone"
            ) from None


def next_runs(expression, timezone_name=None, count=5, after=None):
    """The next ``count`` run times, aware, in the schedule's zone (UTC when none)."""
    zone = zoneinfo.ZoneInfo(timezone_name or "UTC")
    start = (after or datetime.datetime.now(datetime.UTC)).astimezone(zone)
    times = croniter(expand(expression), start)
    return [times.get_next(datetime.datetime) for _ in range(count)]
