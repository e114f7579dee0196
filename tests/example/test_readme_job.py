"""The jobs README.md shows, run as written against the example models."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from app.store.models import Customer, Order
from batch_jobs.models import JobRun
from batch_jobs.testing import run_job

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def readme_job(after_heading, name):
    """The ``Command`` of the first Python block after ``after_heading``, loaded as ``name``."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split(after_heading, 1)[1]
    source = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)
    namespace = {"__name__": f"readme.management.commands.{name}"}
    exec(compile(source, "README.md", "exec"), namespace)
    return namespace["Command"]


def test_the_readme_example_job_runs():
    """The job under "Writing a job" in README.md, run as written."""
    command = readme_job("## Writing a job", "delete_old_orders")
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


def test_the_readme_batch_job_runs_and_resumes():
    command = readme_job("## Batch jobs", "lower_emails")
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
