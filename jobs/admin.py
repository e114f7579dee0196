"""A read-only admin for run records: history is evidence, not something to edit."""

from django.contrib import admin

from jobs.models import JobPause, JobRun, RunRequest


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JobRun)
class JobRunAdmin(ReadOnly):
    list_display = ["id", "job", "status", "exit_code", "started_at", "duration", "host", "dry_run"]
    list_filter = ["job", "status", "dry_run"]
    search_fields = ["job", "host", "error"]
    date_hierarchy = "started_at"


@admin.register(RunRequest)
class RunRequestAdmin(ReadOnly):
    list_display = ["requested_at", "action", "job", "run", "requested_by", "handled_at"]
    list_filter = ["action", "job"]


@admin.register(JobPause)
class JobPauseAdmin(ReadOnly):
    list_display = ["job", "paused_by", "paused_at"]
