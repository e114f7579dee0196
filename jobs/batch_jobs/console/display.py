"""How runs read in the console: progress bars, ETAs, durations and one-line errors."""

import datetime
import json

from django.utils import timezone
from django.utils.html import format_html, format_html_join

from batch_jobs.framework.redact import STORED_CHARS, shown
from batch_jobs.models import JobRun
from batch_jobs.operations.history import progress as progress_text


def seconds(value):
    """``"2h 05m"``, ``"3m 20s"``, ``"4.2s"``, ``"0.03s"``: a duration for people."""
    value = float(value)
    if value < 1:
        return f"{value:.2f}s"
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def duration(run):
    if run.duration is not None:
        return seconds(run.duration.total_seconds())
    if run.status == JobRun.Status.RUNNING:
        return seconds((timezone.now() - run.started_at).total_seconds()) + " so far"
    return "-"


def progress(run):
    """A ``<progress>`` bar (when the total is known) and the progress line."""
    p = run.progress
    if not p:
        return "-"
    text = progress_text(run, eta=False)  # the ETA has a column of its own
    total = p.get("total")
    if not total:
        return text
    done = min(p.get("before", 0) + p["done"], total)
    return format_html('<progress value="{}" max="{}"></progress> {}', done, total, text)


def eta(run):
    """When a live run should finish, from its last progress report: ``"3m 20s (22:41)"``."""
    p = run.progress
    if run.status != JobRun.Status.RUNNING or not p or "eta_s" not in p:
        return "-"
    reported = datetime.datetime.fromisoformat(p["at"]) if "at" in p else timezone.now()
    left = max(p["eta_s"] - (timezone.now() - reported).total_seconds(), 0)
    at = timezone.localtime(timezone.now() + datetime.timedelta(seconds=left))
    return f"{seconds(left)} ({at:%H:%M})"


def status(run):
    label = f"{run.status} (dry run)" if run.dry_run else run.status
    return format_html('<span class="status-{}">{}</span>', run.status, label)


def error(run, width=80):
    """The run's one-line error, cut to ``width`` with the whole line (bounded) as its
    tooltip; redacted and printable, as every text the console shows of a record."""
    if not run.error:
        return "-"
    text = shown(run.error, STORED_CHARS)
    if len(text) <= width:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[: width - 1])


def rows_per_second(run):
    """What a finished run did per second (its own rows), or ``None``."""
    p = run.progress
    if not p or not run.duration or run.duration.total_seconds() <= 0:
        return None
    return p["done"] / run.duration.total_seconds()


def pacing(run):
    """How a batch walk was paced: its last batch size, and its waits on database health."""
    walk = run.walk or {}
    parts = []
    if "batch_size" in walk:
        parts.append(f"batches of {walk['batch_size']:,} rows (the last)")
    if walk.get("health_waits"):
        parts.append(
            f"waited for database health {walk['health_waits']} times, "
            f"{seconds(walk.get('health_wait_s', 0))} in all"
        )
    return "; ".join(parts) or "-"


def recorded(value):
    """A recorded value (text, or JSON such as the arguments) as the run's page shows it:
    redacted, printable and bounded; ``-`` when empty."""
    if value in (None, "", [], {}):
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return shown(text, STORED_CHARS)


#: The streams a run's output lines come from, as ``JobRun.output`` records them.
STREAMS = ("stdout", "stderr")


def output(run):
    """The last lines the run printed (``JobRun.output``), oldest first, stderr's marked:
    each line redacted, its control characters escaped, bounded; ``-`` when none."""
    recorded = run.output if isinstance(run.output, dict) else {}
    lines = [
        (stream if stream in STREAMS else "stdout", shown(line, STORED_CHARS))
        for stream, line in (
            item
            for item in recorded.get("lines") or ()
            if isinstance(item, list | tuple) and len(item) == 2
        )
    ]
    if not lines:
        return "-"
    total = recorded.get("total")
    total = total if isinstance(total, int) and total >= len(lines) else len(lines)
    if total > len(lines):
        head = f"the last {len(lines)} of {total:,} lines"
    else:
        head = "1 line" if total == 1 else f"{total} lines"
    return format_html(
        '<div class="run-output"><p class="help">{}{}</p><pre>{}</pre></div>',
        head,
        ", as it runs" if run.status == JobRun.Status.RUNNING else "",
        format_html_join("", '<span class="output-{}">{}</span>\n', lines),
    )


def request_state(request):
    """Where a request not handled yet stands, for the requests table: ``pending``,
    ``running, claimed by W``, or, when its run has ended and its worker never recorded it
    (a worker killed with SIGKILL: its claim stays), what the operator can do."""
    if request.claimed_at is None:
        return "pending"
    run = request.started_run
    if run is None or run.status == JobRun.Status.RUNNING:
        return f"running, claimed by {request.claimed_by}"
    return (
        f"claimed by {request.claimed_by}, run {run.status}: its worker is gone: start it "
        f"again, or retry run {run.pk}"
    )
