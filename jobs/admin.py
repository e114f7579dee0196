"""The admin is the operators' console (``jobs.console``): run records, read-only."""

from django.contrib import admin

from jobs.console.admin import JobPauseAdmin, JobRunAdmin, RunRequestAdmin
from jobs.models import JobPause, JobRun, RunRequest

admin.site.register(JobRun, JobRunAdmin)
admin.site.register(RunRequest, RunRequestAdmin)
admin.site.register(JobPause, JobPauseAdmin)
