"""The run records' admin, which is the console: read-only records and live progress, with the
jobs' pages (``console.pages``) and the operators' buttons (``console.actions``) on its URLs.

The records are evidence, so nobody adds, changes or deletes them here. Viewing takes
``view_jobrun``; the buttons take ``operate_jobrun`` and post to views that check it again
(403 otherwise), under Django's login and CSRF protection. Every press is a ``RunRequest``
row naming the user and the time; runs pick requests up at their batch boundaries.
"""

from django.contrib import admin
from django.http import Http404
from django.urls import path, re_path, reverse
from django.utils.html import format_html

from batch_jobs.console import display
from batch_jobs.console.actions import Buttons
from batch_jobs.console.input import ConsoleQueries
from batch_jobs.console.pages import REFRESH_SECONDS, JobPages
from batch_jobs.models import JobRun
from batch_jobs.operations import control


class ReadOnly(ConsoleQueries, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # The records live where runs write them: JOB_CONTROL_DATABASE, or default.
        return control.on_control(self.model).all()


class JobRunAdmin(JobPages, Buttons, ReadOnly):
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
        "error_text",
        "progress_bar",
        "eta",
        "recorded_output",
        "run_pacing",
        "started_at",
        "finished_at",
        "run_duration",
        "host",
        "pid",
        "dry_run",
        "recorded_arguments",
        "recorded_argv",
        "counters",
        "walk",
        "stopped_by_text",
        "parent",
        "lock_key_text",
    ]
    readonly_fields = [
        "job_link",
        "progress_bar",
        "eta",
        "run_pacing",
        "run_duration",
        # Recorded text, shown redacted, printable and bounded (records 0.2 wrote are not
        # redacted in the database; what a job or an operator gave may hold anything).
        "error_text",
        "recorded_arguments",
        "recorded_argv",
        "recorded_output",
        "stopped_by_text",
        "lock_key_text",
    ]
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

    @admin.display(description="error")
    def error_text(self, run):
        return display.recorded(run.error)

    @admin.display(description="arguments")
    def recorded_arguments(self, run):
        return display.recorded(run.arguments)

    @admin.display(description="argv")
    def recorded_argv(self, run):
        return display.recorded(run.argv)

    @admin.display(description="output")
    def recorded_output(self, run):
        return display.output(run)

    @admin.display(description="stopped by")
    def stopped_by_text(self, run):
        return display.recorded(run.stopped_by)

    @admin.display(description="lock key")
    def lock_key_text(self, run):
        return display.recorded(run.lock_key)

    # -- pages -----------------------------------------------------------------------------

    def get_urls(self):
        def view(method):
            return self.admin_site.admin_view(method)

        return [
            path("jobs/", view(self.jobs_view), name="batch_jobs_jobs"),
            path("gates/", view(self.gates_view), name="batch_jobs_gates"),
            # Path parameters are checked by their converters (console.input): a job name no
            # record could hold matches nothing (404, below); a run id out of range falls to
            # the admin's own answer for a record that does not exist.
            path("jobs/<batch_jobs_job:name>/", view(self.job_view), name="batch_jobs_job"),
            path(
                "jobs/<batch_jobs_job:name>/pause/", view(self.pause_view), name="batch_jobs_pause"
            ),
            path("jobs/<batch_jobs_job:name>/run/", view(self.run_view), name="batch_jobs_run"),
            path(
                "jobs/<batch_jobs_job:name>/resume/",
                view(self.resume_view),
                name="batch_jobs_resume",
            ),
            # Anything else under jobs/ names no job: not the admin's catch-all redirect to a
            # run record called "jobs/...".
            re_path(r"^jobs/", view(not_found)),
            re_path(r"^gates/.", view(not_found)),
            path("<batch_jobs_run:run_id>/stop/", view(self.stop_view), name="batch_jobs_stop"),
            path("<batch_jobs_run:run_id>/retry/", view(self.retry_view), name="batch_jobs_retry"),
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


def not_found(request):
    raise Http404("no such job")


class RunRequestAdmin(ReadOnly):
    list_display = [
        "requested_at",
        "action",
        "job",
        "run",
        "requested_by",
        "handled_at",
        "started_run",
        "exit_code",
    ]
    list_filter = ["action", "job"]
    # Never `secrets`: a pending start's secret values, which nobody reads back.
    fields = [
        "action",
        "job",
        "recorded_argv",
        "run",
        "requested_by",
        "requested_at",
        "claimed_at",
        "claimed_by",
        "started_run",
        "handled_at",
        "exit_code",
        "error",
    ]
    readonly_fields = ["recorded_argv"]

    @admin.display(description="argv")
    def recorded_argv(self, start):
        return display.recorded(start.argv)


class JobPauseAdmin(ReadOnly):
    list_display = ["job", "paused_by", "paused_at"]
