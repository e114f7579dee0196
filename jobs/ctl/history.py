"""Recent runs from the run records, as rows for a table."""

from jobs.conf import setting
from jobs.models import JobRun


def recent_runs(job=None, limit=20):
    runs = JobRun.objects.using(setting("JOB_CONTROL_DATABASE")).order_by("-started_at")
    if job:
        runs = runs.filter(job=job)
    return list(runs[:limit])


def row(run):
    duration = f"{run.duration.total_seconds():.1f}s" if run.duration is not None else "-"
    counters = " ".join(f"{k}={v}" for k, v in sorted(run.counters.items()))
    return [
        str(run.pk),
        run.job,
        run.status,
        "-" if run.exit_code is None else str(run.exit_code),
        run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        duration,
        counters,
    ]
