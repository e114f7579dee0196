"""The console's own pages beside the admin's: every job, a page per job with its schedule,
checkpoint, pause, the migration gates that wait on it, a chart and its last runs, and the
pending migration gates. Viewing takes ``view_jobrun``."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse

from batch_jobs.console import charts, display
from batch_jobs.framework import schedule
from batch_jobs.models import JobCheckpoint, JobPause, JobRun, JobShardPlan, RunRequest
from batch_jobs.operations import backfills, catalog, control

#: Seconds between reloads of a page that shows a live run.
REFRESH_SECONDS = 5
#: Runs in a job page's chart and table.
CHART_RUNS = 30
TABLE_RUNS = 15
#: Runs that did no work, left out of the chart.
IDLE = {JobRun.Status.SKIPPED, JobRun.Status.BLOCKED}


class JobPages:
    """The jobs' pages of ``JobRunAdmin`` (its URLs are in ``get_urls``)."""

    def jobs_view(self, request):
        """Every job: its schedule, next run, whether it is paused, and its last run."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        known = {job.name: job for job in catalog.jobs()}
        runs = self.get_queryset(request)
        names = sorted(set(known) | set(runs.values_list("job", flat=True).distinct()))
        paused = {p.job: p for p in control.on_control(JobPause).all()}
        rows = [
            {
                "name": name,
                "url": self.job_url(name),
                "job": known.get(name),
                "next_run": next_run(known.get(name)),
                "paused": paused.get(name),
                "last": runs.filter(job=name).order_by("-started_at").first(),
            }
            for name in names
        ]
        context = self.console_context(request, title="Jobs", rows=rows)
        return TemplateResponse(request, "batch_jobs/console/jobs.html", context)

    def job_view(self, request, name):
        """One job: schedule and next runs, checkpoint, pause, a chart and its last runs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = find_job(name)
        runs = self.get_queryset(request).filter(job=name).order_by("-started_at")
        if job is None and not runs.exists():
            raise Http404(f"no job {name!r}")
        recent = list(runs[:TABLE_RUNS])
        charted = list(runs.exclude(status__in=IDLE)[:CHART_RUNS])[::-1]
        context = self.console_context(
            request,
            title=f"Job {name}",
            name=name,
            job=job,
            next_runs=next_runs(job),
            paused=control.paused(name),
            checkpoints=JobCheckpoint.objects.filter(job=name).order_by("-updated_at"),
            plans=JobShardPlan.objects.filter(job=name).order_by("-created_at"),
            chart=charts.runs_chart(charted, self.run_url) if charted else None,
            runs=[
                {
                    "run": run,
                    "url": self.run_url(run),
                    "progress": display.progress(run),
                    "eta": display.eta(run),
                    "duration": display.duration(run),
                    "error": display.error(run),
                    "retryable": run.status in control.RETRYABLE,
                }
                for run in recent
            ],
            **gates_of(name),
            requests=control.on_control(RunRequest).filter(job=name)[:10],
            refresh_seconds=REFRESH_SECONDS
            if any(run.status == JobRun.Status.RUNNING for run in recent)
            else None,
        )
        return TemplateResponse(request, "batch_jobs/console/job.html", context)

    def gates_view(self, request):
        """The pending migration gates: each with its migration, job and the job's state."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        found = gates_of()
        pending = [gate for gate in found["gates"] if gate.pending]
        rows = [{"gate": gate, "job_url": self.job_url(gate.job)} for gate in pending]
        context = self.console_context(
            request, title="Pending migration gates", rows=rows, gates_error=found["gates_error"]
        )
        return TemplateResponse(request, "batch_jobs/console/gates.html", context)


def gates_of(job=None):
    """``{"gates": [...], "gates_error": None}``: the migration gates (of ``job``), or the line
    that says why they cannot be read (a gate whose job does not load), for the page to show."""
    try:
        return {"gates": backfills.gates(job=job), "gates_error": None}
    except backfills.BadGate as e:
        return {"gates": [], "gates_error": f"migration gate {e}"}


def find_job(name):
    """The project's job ``name``, or ``None``: only its records may be left."""
    try:
        return catalog.get(name)
    except catalog.UnknownJob:
        return None


def next_runs(job, count=5):
    if job is None or not job.schedule:
        return []
    return schedule.next_runs(job.schedule, job.timezone, count=count)


def next_run(job):
    runs = next_runs(job, count=1)
    return runs[0] if runs else None
