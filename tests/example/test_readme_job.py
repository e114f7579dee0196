"""The jobs README.md and the tutorial (docs/tutorial/first-job.md, docs/tutorial/batch-job.md)
show, run as written against the example models."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from app.store.models import Customer, Order
from batch_jobs.models import JobRun
from batch_jobs.testing import run_job

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def readme_job(page, name):
    """The ``Command`` of the first Python block of ``page``, loaded as ``name``."""
    text = (Path(__file__).parents[2] / page).read_text()
    source = re.search(r"```python\n(.*?)```", text, flags=re.DOTALL).group(1)
    namespace = {"__name__": f"readme.management.commands.{name}"}
    exec(compile(source, page, "exec"), namespace)
    return namespace["Command"]


@pytest.mark.parametrize("page", ["README.md", "docs/tutorial/first-job.md"])
def test_the_first_job_runs(page):
    """The first job of README.md and of the tutorial, run as written."""
    command = readme_job(page, "delete_old_orders")
    old = timezone.now() - timedelta(days=800)
    Order.objects.bulk_create(
        Order(external_id=str(i), amount=1, created_at=old if i < 1500 else timezone.now())
        for i in range(2000)
    )
    result = run_job(command())
    assert result.exit_code == 0, result.stderr
    assert Order.objects.count() == 500
    assert result.stdout == "Done: {'deleted': 1500}\n"
    record = JobRun.objects.get(job="delete_old_orders")
    assert (record.status, record.counters) == ("succeeded", {"deleted": 1500})


def test_the_tutorial_batch_job_runs_and_resumes():
    command = readme_job("docs/tutorial/batch-job.md", "lower_emails")
    Customer.objects.bulk_create(Customer(email=f"U{i}@X.COM") for i in range(120))
    assert run_job(command(), batch_size=50, dry_run=True).exit_code == 0
    assert not Customer.objects.filter(email__startswith="u").exists()
    stopped = run_job(command(), batch_size=50, stop_after_batches=1)
    assert (stopped.exit_code, stopped.record.status) == (143, "interrupted")
    assert Customer.objects.filter(email__startswith="u").count() == 50
    assert run_job(command(), batch_size=50).exit_code == 0
    assert sorted(Customer.objects.values_list("email", flat=True)) == sorted(
        f"u{i}@x.com" for i in range(120)
    )
    record = JobRun.objects.filter(job="lower_emails").latest("started_at")
    assert record.walk["counters"] == {"checked": 120, "changed": 120}  # the whole walk
    assert record.counters == {"checked": 70, "changed": 70}  # after the resume
