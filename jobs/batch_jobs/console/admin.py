"""The run records' admin, which is the console: read-only records, live progress, a page per
job, and operators' buttons.

The records are evidence, so nobody adds, changes or deletes them here. Viewing takes
``view_jobrun``; the buttons take ``operate_jobrun`` and post to views that check it again
(403 otherwise), under Django's login and CSRF protection. Every press is a ``RunRequest``
row naming the user and the time; runs pick requests up at their batch boundaries.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from batch_jobs.console import charts, display
from batch_jobs.ctl import catalog, control
from batch_jobs.framework import schedule
from batch_jobs.models import JobCheckpoint, JobPause, JobRun, JobShardPlan, RunRequest

#: Seconds between reloads of a page that shows a live run.
REFRESH_SECONDS = 5
#: Runs in a job page's chart and table.
CHART_RUNS = 30
TABLE_RUNS = 15
#: Runs that did no work, left out of the chart.
IDLE = {JobRun.Status.SKIPPED, JobRun.Status.BLOCKED}


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # The records live where runs write them: JOB_CONTROL_DATABASE, or default.
        return control.on_control(self.model).all()


class JobRunAdmin(ReadOnly):
    list_display = [
        "id",
        "job_link",
        "run_status",
        "progress_bar",
        "eta",
        "started_at",
        "run_duration",
        "exit_code",
        "error_line",
        "host",
    ]
    list_display_links = ["id"]
    list_filter = ["job", "status", "host", "dry_run"]
    search_fields = ["job", "host", "error"]
    date_hierarchy = "started_at"
    fields = [
        "job_link",
        "status",
        "exit_code",
        "error",
        "progress_bar",
        "eta",
        "run_pacing",
        "started_at",
        "finished_at",
        "run_duration",
        "host",
        "pid",
        "dry_run",
        "arguments",
        "argv",
        "counters",
        "walk",
        "stopped_by",
        "parent",
        "lock_key",
    ]
    readonly_fields = ["job_link", "progress_bar", "eta", "run_pacing", "run_duration"]
    change_list_template = "admin/batch_jobs/jobrun/change_list.html"
    change_form_template = "admin/batch_jobs/jobrun/change_form.html"

    # -- columns ---------------------------------------------------------------------------

    @admin.display(description="job", ordering="job")
    def job_link(self, run):
        return format_html('<a href="{}">{}</a>', self.job_url(run.job), run.job)

    @admin.display(description="status", ordering="status")
    def run_status(self, run):
        return display.status(run)

    @admin.display(description="progress")
    def progress_bar(self, run):
        return display.progress(run)

    @admin.display(description="ETA")
    def eta(self, run):
        return display.eta(run)

    @admin.display(description="pacing")
    def run_pacing(self, run):
        return display.pacing(run)

    @admin.display(description="duration", ordering="duration")
    def run_duration(self, run):
        return display.duration(run)

    @admin.display(description="error")
    def error_line(self, run):
        return display.error(run)

    # -- pages -----------------------------------------------------------------------------

    def get_urls(self):
        def view(method):
            return self.admin_site.admin_view(method)

        return [
            path("jobs/", view(self.jobs_view), name="batch_jobs_jobs"),
            path("jobs/<str:name>/", view(self.job_view), name="batch_jobs_job"),
            path("jobs/<str:name>/pause/", view(self.pause_view), name="batch_jobs_pause"),
            path("jobs/<str:name>/resume/", view(self.resume_view), name="batch_jobs_resume"),
            path("<int:run_id>/stop/", view(self.stop_view), name="batch_jobs_stop"),
            path("<int:run_id>/retry/", view(self.retry_view), name="batch_jobs_retry"),
            *super().get_urls(),
        ]

    def job_url(self, name):
        return reverse(f"{self.admin_site.name}:batch_jobs_job", args=[name])

    def run_url(self, run):
        return reverse(f"{self.admin_site.name}:batch_jobs_jobrun_change", args=[run.pk])

    def can_operate(self, request):
        return request.user.has_perm("batch_jobs.operate_jobrun")

    def console_context(self, request, **context):
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "can_operate": self.can_operate(request),
            **context,
        }

    def changelist_view(self, request, extra_context=None):
        live = self.get_queryset(request).filter(status=JobRun.Status.RUNNING).exists()
        extra = {
            "title": "Job runs",
            "refresh_seconds": REFRESH_SECONDS if live else None,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # A run's page: the run the admin fetched already, and its buttons.
        if obj is not None:
            running = obj.status == JobRun.Status.RUNNING
            context.update(
                can_operate=self.can_operate(request),
                can_stop=running,
                can_retry=obj.status in control.RETRYABLE,
                job_url=self.job_url(obj.job),
                refresh_seconds=REFRESH_SECONDS if running else None,
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

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
            requests=control.on_control(RunRequest).filter(job=name)[:10],
            refresh_seconds=REFRESH_SECONDS
            if any(run.status == JobRun.Status.RUNNING for run in recent)
            else None,
        )
        return TemplateResponse(request, "batch_jobs/console/job.html", context)

    # -- buttons: POST only, operate_jobrun only -------------------------------------------

    def operate(self, request, action, *args):
        """POST only: do ``action(*args, by=user)``, say what happened, and go back where
        the button was (a ``next`` on this site) or to the jobs."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.can_operate(request):
            raise PermissionDenied
        try:
            message = action(*args, by=request.user.get_username())
        except control.Refused as e:
            self.message_user(request, str(e), messages.ERROR)
        else:
            self.message_user(request, message, messages.SUCCESS)
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
            target = reverse(f"{self.admin_site.name}:batch_jobs_jobs")
        return HttpResponseRedirect(target)

    def stop_view(self, request, run_id):
        return self.operate(request, stop, run_id)

    def retry_view(self, request, run_id):
        return self.operate(request, retry, run_id)

    def pause_view(self, request, name):
        return self.operate(request, pause, name)

    def resume_view(self, request, name):
        return self.operate(request, resume, name)


def stop(run_id, by):
    run = control.stop(run_id, by)
    return f"Asked run {run.pk} ({run.job} on {run.host}) to stop at its next batch boundary."


def retry(run_id, by):
    requested = control.request_retry(run_id, by)
    when = next_run(find_job(requested.job))
    scheduled = f"its next scheduled run, {when:%Y-%m-%d %H:%M %Z}, or " if when else ""
    return (
        f"Retry of run {run_id} recorded. The console does not start runs: the next run of "
        f"{requested.job} with the same arguments takes it up ({scheduled}"
        "`jobctl retry --pending` where jobs run) and resumes from the checkpoint."
    )


def pause(name, by):
    if find_job(name) is None:
        raise control.Refused(f"no job {name!r} in this project")
    paused, created = control.pause(name, by)
    if not created:
        return f"{name} was already paused by {paused.paused_by}."
    return f"Paused {name}: its run in flight stops at its next batch boundary."


def resume(name, by):
    if control.resume(name, by):
        return f"Resumed {name}: its next run goes on from its checkpoint."
    return f"{name} was not paused."


class RunRequestAdmin(ReadOnly):
    list_display = ["requested_at", "action", "job", "run", "requested_by", "handled_at"]
    list_filter = ["action", "job"]


class JobPauseAdmin(ReadOnly):
    list_display = ["job", "paused_by", "paused_at"]


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
