"""Recent runs from the run records, as rows for a table."""

from batch_jobs.models import JobCheckpoint, JobRun
from batch_jobs.operations.control import on_control


def recent_runs(job=None, limit=20):
    runs = on_control(JobRun).order_by("-started_at")
    if job:
        runs = runs.filter(job=job)
    return list(runs[:limit])


def checkpoints(job):
    """The unfinished walks of ``job``: lines for ``jobctl describe``."""
    found = JobCheckpoint.objects.filter(job=job).order_by("-updated_at")
    return [
        f"after key {c.last_key}, saved {c.updated_at:%Y-%m-%d %H:%M:%S %Z}, "
        f"the walk so far: {pairs(c.counters) or 'nothing counted'}"
        for c in found
    ]


HEADERS = [
    "ID",
    "JOB",
    "STATUS",
    "EXIT",
    "STARTED",
    "DURATION",
    "HOST",
    "PROGRESS",
    "ARGUMENTS",
    "COUNTERS",
]


def row(run):
    duration = f"{run.duration.total_seconds():.1f}s" if run.duration is not None else "-"
    status = f"{run.status} (dry run)" if run.dry_run else run.status
    return [
        str(run.pk),
        run.job,
        status,
        "-" if run.exit_code is None else str(run.exit_code),
        run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        duration,
        run.host or "-",
        progress(run),
        pairs(arguments(run.arguments)) or "-",
        pairs(run.counters),
    ]


def arguments(recorded):
    """The arguments a run was given (secrets already redacted), less the flags left unset."""
    # None, False and "" are unset; 0 is a value (0 == False, hence no `in (None, False)`).
    shown = {
        k: v
        for k, v in recorded.items()
        if k != "dry_run" and not (v is None or v is False or v == "")
    }
    if words := shown.pop("args", None):
        shown["args"] = " ".join(map(str, words))
    return shown


def progress(run, eta=True):
    """``"450/~1000 rows 45% 120/s ETA 5s"``: a live run's last progress report, or ``-``."""
    p = run.progress
    if not p:
        return "-"
    done = p.get("before", 0) + p["done"]
    text = f"{done}"
    if p.get("total"):
        text += f"/{'~' if p.get('estimated') else ''}{p['total']}"
    text += f" {p.get('unit', 'rows')}"
    if p.get("total"):
        text += f" {min(100 * done // p['total'], 100)}%"
    text += f" {p['rate']:g}/s"
    if eta and run.status == run.Status.RUNNING and "eta_s" in p:
        text += f" ETA {p['eta_s']:g}s"
    return text


def pairs(values):
    return " ".join(f"{k}={v}" for k, v in sorted(values.items()))


def output_since(output, shown):
    """The lines of a record's ``output`` printed after its first ``shown`` lines, as
    ``[(stream, line)]``, and the number printed now. Lines the record no longer keeps (it
    keeps the last ``JOB_OUTPUT_LINES``) are one line saying how many, of stream ``None``."""
    lines = (output or {}).get("lines") or []
    total = (output or {}).get("total") or 0
    new = max(total - shown, 0)
    kept = lines[len(lines) - min(new, len(lines)) :] if new else []
    gap = new - len(kept)
    found = [(None, f"… {gap} earlier line(s) not kept (JOB_OUTPUT_LINES)")] if gap else []
    return found + [(stream, line) for stream, line in kept], max(total, shown)
