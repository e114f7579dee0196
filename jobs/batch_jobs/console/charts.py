"""Server-rendered SVG charts of a job's last runs: no JavaScript, no build step."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from batch_jobs.console import display

#: Bar colours by status; a colour-blind reader has the status in each bar's tooltip too.
COLORS = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "stopped": "#ef6c00",
    "interrupted": "#f9a825",
    "abandoned": "#6d4c41",
    "running": "#1565c0",
}


def runs_chart(runs, run_url):
    """Two bar charts of ``runs`` (oldest first): duration, and rows per second. Each bar
    links to its run (``run_url(run)``) and names it in a tooltip."""
    durations = [(run.duration.total_seconds() if run.duration else None, run) for run in runs]
    rates = [(display.rows_per_second(run), run) for run in runs]
    return mark_safe(
        bar_chart("Duration", durations, display.seconds, run_url)
        + bar_chart("Rows per second", rates, lambda v: f"{v:,.0f}/s", run_url)
    )


def bar_chart(title, points, label, run_url, width=720, height=110, top=18, bottom=4):
    """One chart: a bar per ``(value, run)``; a run without a value leaves a gap."""
    values = [v for v, _ in points if v is not None]
    peak = max(values, default=0) or 1
    slot = min(width / max(len(points), 1), 36)
    plot = height - top - bottom
    bars = []
    for i, (value, run) in enumerate(points):
        if value is None:
            continue
        h = max(plot * value / peak, 1)
        bars.append(
            (
                run_url(run),
                round(i * slot + slot * 0.15, 1),
                round(top + plot - h, 1),
                round(slot * 0.7, 1),
                round(h, 1),
                COLORS.get(run.status, "#757575"),
                f"#{run.pk} {run.status}: {label(value)}",
            )
        )
    return format_html(
        '<svg class="job-chart" role="img" aria-label="{title} of the last {count} runs" '
        'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">'
        '<text x="0" y="12" fill="currentColor">{title} (peak {peak})</text>'
        '<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#9e9e9e"/>'
        "{bars}</svg>",
        title=title,
        count=len(points),
        width=width,
        height=height,
        peak=label(peak) if values else "no runs",
        base=height - bottom,
        bars=format_html_join(
            "",
            '<a href="{}"><rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
            "<title>{}</title></rect></a>",
            bars,
        ),
    )
