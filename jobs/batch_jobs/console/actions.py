"""The operators' buttons: Stop, Retry, Pause and Resume. POST only, permission
``operate_jobrun`` only (403 otherwise), under Django's login and CSRF protection; each press
is a request written by ``batch_jobs.operations.control``, which runs read at their batch
boundaries (``batch_jobs.framework.requests``)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from batch_jobs.console.pages import find_job, next_run
from batch_jobs.operations import control


class Buttons:
    """The buttons' views of ``JobRunAdmin`` (its URLs are in ``get_urls``)."""

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
