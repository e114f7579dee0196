"""The admin is the operators' console (``batch_jobs.console``): run records, read-only."""

from django.contrib import admin

from batch_jobs.console.admin import JobPauseAdmin, JobRunAdmin, RunRequestAdmin
from batch_jobs.models import JobPause, JobRun, RunRequest

admin.site.register(JobRun, JobRunAdmin)
admin.site.register(RunRequest, RunRequestAdmin)
admin.site.register(JobPause, JobPauseAdmin)
