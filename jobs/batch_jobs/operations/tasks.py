"""The ``django.tasks`` task that runs a start request, for a project that already runs a task
worker (Django 6's ``django.tasks``, or the ``django-tasks`` backport on Django 5.2: the
``tasks`` extra). With ``JOB_TASKS_BACKEND`` set, ``request_start`` enqueues this task on that
backend; the task worker then claims the request and runs it as its own ``job`` process,
through the same code as ``jobctl worker`` (``batch_jobs.operations.dispatch``), so the run,
its record and the request end the same way."""

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the backport
    from django_tasks import task

from batch_jobs.operations import dispatch


@task()
def run_requested(request_id: int):
    """Claim start request ``request_id`` and run it; the exit code of its ``job`` process,
    or ``None`` when another dispatcher claimed it first or it could not be run."""
    return dispatch.run_request(request_id)
