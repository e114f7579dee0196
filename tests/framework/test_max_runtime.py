"""--max-runtime: a stop at a batch boundary with 75, and the framework's options' ranges."""

import pytest

from batch_jobs.models import JobRun
from batch_jobs.testing import run_job
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_max_runtime_stops_at_a_batch_boundary_with_75():
    result = run_job("slow_batches", batches=50, size=4, sleep=0.05, max_runtime=0.2)
    assert result.exit_code == 75
    record = JobRun.objects.get(job="slow_batches")
    assert record.status == "interrupted"
    assert 0 < record.counters["batches"] < 50
    assert Item.objects.count() == record.counters["batches"] * 4


@pytest.mark.parametrize(
    ("job", "args", "message"),
    [
        ("upper_items", ["--batch-size", "0"], "must be a positive whole number, not '0'"),
        ("upper_items", ["--throttle", "-1"], "must be zero or more seconds, not '-1'"),
        ("echo_args", ["--max-runtime", "0"], "must be a positive number of seconds"),
    ],
)
def test_framework_options_refuse_out_of_range_values(job, args, message):
    result = run_job(job, *args)
    assert result.exit_code == 2
    assert message in str(result.exception)
