"""The job under "Writing a job" in README.md, run as written against the example models."""

import re
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from app.store.models import Order
from jobs.models import JobRun

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_the_readme_example_job_runs():
    """The job under "Writing a job" in README.md, run as written."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Writing a job", 1)[1]
    source = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)
    namespace = {"__name__": "readme.management.commands.delete_old_orders"}
    exec(compile(source, "README.md", "exec"), namespace)
    old = timezone.now() - timedelta(days=800)
    Order.objects.bulk_create(
        Order(external_id=str(i), amount=1, created_at=old if i < 1500 else timezone.now())
        for i in range(2000)
    )
    out = StringIO()
    call_command(namespace["Command"](), stdout=out)
    assert Order.objects.count() == 500
    assert out.getvalue() == "Done: {'deleted': 1500}\n"
    record = JobRun.objects.get(job="delete_old_orders")
    assert (record.status, record.counters) == ("succeeded", {"deleted": 1500})
