"""The console's own pages beside the admin's: every job, a page per job with its schedule,
checkpoint, pause, the migration gates that wait on it, a chart and its last runs, and the
pending migration gates. Viewing takes ``view_jobrun``."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html

from batch_jobs.console import charts, display
from batch_jobs.console.runform import RunForm
from batch_jobs.framework import schedule
from batch_jobs.framework.redact import shown
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

    def job_view(self, request, name, run_form=None):
        """One job: schedule and next runs, checkpoint, pause, a chart, its last runs, and
        the Run form for those who may operate."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = find_job(name)
        if run_form is None and job is not None and self.can_operate(request):
            run_form = RunForm(job)
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
            requests=[
                (r, None if r.argv is None else command_line(r.argv), display.request_state(r))
                for r in control.on_control(RunRequest)
                .filter(job=name)
                .select_related("started_run")[:10]
            ],
            run_form=run_form,
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

    def run_view(self, request, name):
        """POST only, ``operate_jobrun`` only (403 otherwise): the Run form. Accepted, it
        records a start request (who and when) and goes back to the job's page with a
        message linking it; refused, the job's page again with the parser's message."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.can_operate(request):
            raise PermissionDenied
        job = find_job(name)
        if job is None:
            raise Http404(f"no job {name!r} in this project")
        form = RunForm(job, request.POST, request.FILES)
        if form.is_valid():
            try:
                start = form.start(by=request.user.get_username())
            except control.Refused as e:
                form.add_error(None, str(e))
            else:
                where = f"{self.job_url(name)}#request-{start.pk}"
                self.message_user(request, started(start, where))
                return HttpResponseRedirect(self.job_url(name))
        response = self.job_view(request, name, run_form=form)
        response.status_code = 400
        return response


def gates_of(job=None):
    """``{"gates": [...], "gates_error": None}``: the migration gates (of ``job``), or the line
    that says why they cannot be read (a gate whose job does not load), for the page to show."""
    try:
        return {"gates": backfills.gates(job=job), "gates_error": None}
    except backfills.BadGate as e:
        return {"gates": [], "gates_error": f"migration gate {e}"}


def command_line(argv):
    """A recorded command line as a page shows it: each word redacted, printable, bounded."""
    return " ".join(shown(word) for word in argv) if isinstance(argv, list) else shown(argv)


def started(start, url):
    """The message after a start: which request, the command line as recorded (secrets as
    ``***``), and who runs it."""
    words = command_line([start.job, *(start.argv or [])])
    return format_html(
        'Run requested: <a href="{}">request {}</a>, <code>job {}</code>. A worker starts it '
        "shortly: the request links its run once it has started.",
        url,
        start.pk,
        words,
    )


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
