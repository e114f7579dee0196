"""A read-only admin for run records: history is evidence, not something to edit."""

from django.contrib import admin

from jobs.models import JobRun


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["id", "job", "status", "exit_code", "started_at", "duration", "host", "dry_run"]
    list_filter = ["job", "status", "dry_run"]
    search_fields = ["job", "host", "error"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
