"""The jobs README.md and the tutorial (docs/tutorial/first-job.md, docs/tutorial/batch-job.md)
show, run as written against the example models."""

import re
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from app.store.models import Customer, Order
from batch_jobs.models import JobRun

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
    out = StringIO()
    call_command(command(), stdout=out)
    assert Order.objects.count() == 500
    assert out.getvalue() == "Done: {'deleted': 1500}\n"
    record = JobRun.objects.get(job="delete_old_orders")
    assert (record.status, record.counters) == ("succeeded", {"deleted": 1500})


def test_the_tutorial_batch_job_runs_and_resumes():
    command = readme_job("docs/tutorial/batch-job.md", "lower_emails")
    Customer.objects.bulk_create(Customer(email=f"U{i}@X.COM") for i in range(120))
    call_command(command(), batch_size=50, dry_run=True)
    assert not Customer.objects.filter(email__startswith="u").exists()
    call_command(command(), batch_size=50)
    assert sorted(Customer.objects.values_list("email", flat=True)) == sorted(
        f"u{i}@x.com" for i in range(120)
    )
    record = JobRun.objects.filter(job="lower_emails").latest("started_at")
    assert record.counters == {"checked": 120, "changed": 120}
