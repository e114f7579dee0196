"""batch_jobs.testing, the job authors' testing API: run_job, stop_after, process_batch."""

import pytest

from batch_jobs.framework.stop import STOP
from batch_jobs.models import JobCheckpoint, JobRun
from batch_jobs.testing import process_batch, run_job, stop_after
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def upper_pks():
    """The items whose names were upper-cased; in Python, as SQLite's LIKE (startswith) does
    not tell case apart."""
    return {pk for pk, name in Item.objects.values_list("pk", "name") if name.startswith("ITEM")}


@pytest.fixture
def items():
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(30))
    return list(Item.objects.order_by("pk").values_list("pk", "name"))


def test_a_success_has_exit_0_its_output_its_events_and_its_record():
    result = run_job("echo_args", "word")
    assert (result.exit_code, result.exception) == (0, None)
    assert result.stdout == '"word"\n'
    assert "started" in result.stderr  # the job's events
    assert result.record == JobRun.objects.get(job="echo_args")
    assert result.record.status == "succeeded"


def test_a_job_failure_is_returned_with_the_records_exit_code():
    result = run_job("fail_with", 65, message="line 3: bad amount")
    assert result.exit_code == 65
    assert str(result.exception) == "line 3: bad amount"
    assert (result.record.status, result.record.exit_code) == ("failed", 65)
    assert "line 3: bad amount" in result.stderr


def test_an_unexpected_exception_is_a_bug_exit_1_and_kept():
    result = run_job("crash")
    assert result.exit_code == 1
    assert result.exception is not None and not isinstance(result.exception, SystemExit)
    assert result.record.status == "failed"


@pytest.mark.parametrize(
    ("args", "options"),
    [(["--batch-size", "0"], {}), (["--no-such-option"], {}), (["--strategy", "nope"], {})],
)
def test_refused_arguments_exit_2_with_no_record(args, options):
    result = run_job("upper_items", *args, **options)
    assert result.exit_code == 2
    assert result.record is None
    assert not JobRun.objects.exists()


def test_an_unknown_job_name_is_a_mistake_in_the_test_and_raises():
    with pytest.raises(KeyError):
        run_job("no_such_job")


def test_a_max_runtime_stop_is_75_and_interrupted():
    result = run_job("slow_batches", batches=50, size=1, sleep=0.05, max_runtime=0.1)
    assert result.exit_code == 75
    assert result.record.status == "interrupted"
    assert result.counters["batches"] < 50  # how many before the stop: the machine's pace
    assert "--max-runtime reached" in str(result.exception)


def test_stop_after_batches_stops_as_a_graceful_stop_and_the_rerun_resumes(items):
    stopped = run_job("upper_items", batch_size=10, stop_after_batches=2)
    assert stopped.exit_code == 143
    assert (stopped.record.status, stopped.record.exit_code) == ("interrupted", 143)
    assert stopped.counters == {"checked": 20, "changed": 20}
    checkpoint = JobCheckpoint.objects.get(job="upper_items")
    assert checkpoint.last_key == items[19][0]
    assert len(upper_pks()) == 20

    resumed = run_job("upper_items", batch_size=10)
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.counters == {"checked": 10, "changed": 10}
    assert resumed.record.walk["resumed_after"] == items[19][0]
    assert not JobCheckpoint.objects.exists()


def test_stop_after_as_a_context_manager_and_it_is_reset_afterwards(items):
    with stop_after(1):
        assert run_job("upper_items", batch_size=10).exit_code == 143
    assert not STOP.requested  # its request was answered: none is left for what comes next
    assert run_job("upper_items", batch_size=10).exit_code == 0
    assert len(upper_pks()) == 30


def test_stop_after_zero_batches_is_refused():
    with pytest.raises(ValueError, match="at least one batch"), stop_after(0):
        pass


def test_a_walk_shorter_than_the_limit_finishes(items):
    result = run_job("upper_items", batch_size=100, stop_after_batches=5)
    assert result.exit_code == 0
    assert result.record.walk["done"] is True


def test_process_batch_counts_and_writes_one_batch(items):
    rows = items[:3]
    counters = process_batch("upper_items", "upper_in_python", rows)
    assert counters == {"checked": 3, "changed": 3}
    assert list(Item.objects.order_by("pk").values_list("name", flat=True)[:4]) == [
        "ITEM-0",
        "ITEM-1",
        "ITEM-2",
        "item-3",
    ]
    assert not JobRun.objects.exists()  # no run, no record


def test_process_batch_in_a_dry_run_writes_nothing(items):
    counters = process_batch(
        "upper_items", "upper_in_sql", items[:5], Item.objects.all(), dry_run=True
    )
    assert counters == {"checked": 5, "changed": 5}
    assert not upper_pks()


def test_process_batch_gives_a_set_based_batch_its_key_range(items):
    counters = process_batch("upper_items", "upper_in_sql", items[10:20], Item.objects.all())
    assert counters == {"checked": 10, "changed": 10}
    assert upper_pks() == {pk for pk, _ in items[10:20]}


def test_process_batch_takes_a_callable_and_a_failure_rolls_the_batch_back(items):
    def process(batch):
        Item.objects.filter(pk=batch.first_key).update(name="changed")
        raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        process_batch("upper_items", process, items[:1])
    assert Item.objects.get(pk=items[0][0]).name == "item-0"
