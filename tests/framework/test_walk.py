"""The batch walk itself, on the test jobs' table: resume, rollback, dry run, and which option
changes keep a resume and which start the walk over."""

import signal
from io import StringIO

import pytest
from django.core.management import call_command

from batch_jobs.framework.stop import STOP
from batch_jobs.framework.walk import arguments_hash
from batch_jobs.models import JobCheckpoint, JobRun
from tests.testjobs.management.commands.upper_items import Command as UpperItems
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True)

ORIGINAL = UpperItems.upper_in_python


def seed(count=500):
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(count))
    return list(Item.objects.order_by("pk").values_list("pk", flat=True))


def upper(*args, command=None):
    out = StringIO()
    call_command(command or "upper_items", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def walked(monkeypatch):
    """Record, from now on, the ``(first_key, last_key)`` of every batch walked."""

    def arm():
        calls = []

        def recording(self, batch):
            calls.append((batch.first_key, batch.last_key))
            ORIGINAL(self, batch)

        monkeypatch.setattr(UpperItems, "upper_in_python", recording)
        return calls

    return arm


@pytest.fixture
def stop_after(monkeypatch):
    """Make the next run of upper_items stop (as on SIGTERM) after ``n`` batches."""

    def arm(n):
        calls = []

        def stopping(self, batch):
            calls.append(batch.last_key)
            ORIGINAL(self, batch)
            if len(calls) == n:
                STOP.signum = signal.SIGTERM  # as the handler does on the first SIGTERM

        monkeypatch.setattr(UpperItems, "upper_in_python", stopping)
        return calls

    return arm


def stopped_run(stop_after, monkeypatch, *args, batches=2):
    """Run upper_items until a stop after ``batches`` batches; the keys its batches ended at."""
    calls = stop_after(batches)
    with pytest.raises(Exception) as excinfo:
        upper(*args)
    assert getattr(excinfo.value, "returncode", None) == 143
    monkeypatch.setattr(UpperItems, "upper_in_python", ORIGINAL)
    return calls


def test_a_walk_stopped_midway_resumes_after_its_last_batch_and_walks_every_row_once(
    stop_after, monkeypatch, walked
):
    keys = seed(500)
    ends = stopped_run(stop_after, monkeypatch, "--batch-size", "100")
    assert ends == [keys[99], keys[199]]
    checkpoint = JobCheckpoint.objects.get()
    assert checkpoint.last_key == keys[199]
    assert checkpoint.counters == {"checked": 200, "changed": 200}
    assert checkpoint.rows == 200
    # Rows past the checkpoint are untouched; rows before it written once.
    names = dict(Item.objects.values_list("pk", "name"))
    assert all(names[k] == names[k].upper() for k in keys[:200])
    assert all(names[k] == names[k].lower() for k in keys[200:])

    calls = walked()
    assert upper("--batch-size", "100") == "checked 300 / changed 300\n"
    assert [first for first, _ in calls] == keys[200::100]  # nothing walked twice
    assert all(name == name.upper() for name in Item.objects.values_list("name", flat=True))
    assert JobCheckpoint.objects.count() == 0  # a finished walk clears it
    stopped, resumed = JobRun.objects.order_by("started_at")
    assert stopped.status == "interrupted" and stopped.exit_code == 143
    assert stopped.walk["done"] is False
    assert stopped.walk["last_key"] == keys[199]
    assert stopped.walk["counters"] == {"checked": 200, "changed": 200}
    assert resumed.counters == {"checked": 300, "changed": 300}
    assert resumed.walk == {
        "resumed_after": keys[199],
        "last_key": keys[-1],
        "counters": {"checked": 500, "changed": 500},
        "done": True,
        "batch_size": 100,
    }


def test_the_checkpoint_walk_totals_and_the_record_agree_after_every_batch(monkeypatch):
    keys = seed(250)
    seen = []

    def observing(self, batch):
        # Before this batch: what the last committed batch left in all three places.
        checkpoint = JobCheckpoint.objects.first()
        seen.append(
            (
                dict(self.walk_totals),
                checkpoint.counters if checkpoint else None,
                self._job_run.record.walk.get("counters"),
            )
        )
        ORIGINAL(self, batch)

    monkeypatch.setattr(UpperItems, "upper_in_python", observing)
    command = UpperItems()
    call_command(command, "--batch-size", "100", stdout=StringIO(), stderr=StringIO())
    one, two = {"checked": 100, "changed": 100}, {"checked": 200, "changed": 200}
    assert seen == [({}, None, None), (one, one, one), (two, two, two)]
    assert dict(command.walk_totals) == {"checked": 250, "changed": 250}
    record = JobRun.objects.get()
    assert record.walk["counters"] == dict(command.walk_totals)
    assert record.walk["last_key"] == keys[-1] and record.walk["done"] is True


def test_a_batch_that_fails_rolls_back_with_its_counts(monkeypatch):
    keys = seed(300)
    calls = []

    def failing_third(self, batch):
        calls.append(batch.last_key)
        ORIGINAL(self, batch)  # writes and counts, then fails: both must go
        if len(calls) == 3:
            raise RuntimeError("the third batch fails")

    monkeypatch.setattr(UpperItems, "upper_in_python", failing_third)
    command = UpperItems()
    with pytest.raises(RuntimeError, match="the third batch fails"):
        call_command(command, "--batch-size", "100", stdout=StringIO(), stderr=StringIO())
    assert dict(command.counters) == {"checked": 200, "changed": 200}
    assert dict(command.walk_totals) == {"checked": 200, "changed": 200}
    record = JobRun.objects.get()
    assert record.status == "failed" and record.exit_code == 1
    assert record.counters == {"checked": 200, "changed": 200}
    assert record.walk["counters"] == {"checked": 200, "changed": 200}
    assert record.walk["last_key"] == keys[199] and record.walk["done"] is False
    checkpoint = JobCheckpoint.objects.get()
    assert checkpoint.last_key == keys[199]
    assert checkpoint.counters == {"checked": 200, "changed": 200}
    names = dict(Item.objects.values_list("pk", "name"))
    assert all(names[k] == names[k].lower() for k in keys[200:])  # the third's writes too

    monkeypatch.setattr(UpperItems, "upper_in_python", ORIGINAL)
    assert upper("--batch-size", "100") == "checked 100 / changed 100\n"
    assert JobRun.objects.order_by("-started_at")[0].walk["counters"] == {
        "checked": 300,
        "changed": 300,
    }


@pytest.mark.parametrize("strategy", ["python", "set"])
def test_a_dry_run_writes_nothing_and_neither_reads_nor_writes_a_checkpoint(
    strategy, stop_after, monkeypatch
):
    keys = seed(300)
    assert upper("--strategy", strategy, "--dry-run", "--batch-size", "100") == (
        "checked 300 / changed 300\n"
    )
    assert all(name == name.lower() for name in Item.objects.values_list("name", flat=True))
    assert JobCheckpoint.objects.count() == 0
    record = JobRun.objects.get()
    assert record.dry_run is True and record.status == "succeeded"
    assert record.walk["counters"] == {"checked": 300, "changed": 300}

    # With a checkpoint of the same walk: the dry run walks every row and leaves it as it was.
    stopped_run(stop_after, monkeypatch, "--strategy", "python", batches=1)
    before = JobCheckpoint.objects.values().get()
    assert before["last_key"] == keys[99]
    assert upper("--strategy", "python", "--dry-run") == "checked 300 / changed 200\n"
    assert JobCheckpoint.objects.values().get() == before
    assert JobRun.objects.order_by("-started_at")[0].walk["resumed_after"] is None


def test_restart_starts_over_and_clears_the_checkpoint(stop_after, monkeypatch, walked):
    keys = seed(300)
    stopped_run(stop_after, monkeypatch, "--batch-size", "100")
    assert JobCheckpoint.objects.get().last_key == keys[199]
    calls = walked()
    assert upper("--restart", "--batch-size", "100") == "checked 300 / changed 100\n"
    assert calls[0][0] == keys[0]
    assert JobCheckpoint.objects.count() == 0
    assert JobRun.objects.order_by("-started_at")[0].walk["resumed_after"] is None


# Options that change how a run goes, not what it walks: a rerun with any of them resumes.
KEEP_A_RESUME = [
    ("--batch-size", "50"),
    ("--batch-time", "2"),
    ("--throttle", "0.001"),
    ("--max-lag", "30"),
    ("--max-active", "1000"),
    ("--max-health-wait", "10"),
    ("--no-lock",),
    ("--skip-if-running",),
    ("--max-runtime", "600"),
    ("--verbosity", "2"),
    ("--traceback",),
    ("--no-color",),
    ("--force-color",),
    ("--skip-checks",),
]


@pytest.mark.parametrize("change", KEEP_A_RESUME, ids=lambda c: c[0])
def test_a_rerun_with_another_pacing_or_run_option_resumes(change, stop_after, monkeypatch):
    keys = seed(300)
    stopped_run(stop_after, monkeypatch, "--batch-size", "100")
    output = upper(*change)
    assert output == "checked 100 / changed 100\n"
    resumed = JobRun.objects.order_by("-started_at")[0]
    assert resumed.walk["resumed_after"] == keys[199]
    assert resumed.walk["counters"] == {"checked": 300, "changed": 300}
    assert JobCheckpoint.objects.count() == 0


def test_a_rerun_with_other_values_of_the_jobs_own_options_starts_over(stop_after, monkeypatch):
    keys = seed(300)
    stopped_run(stop_after, monkeypatch, "--batch-size", "100")
    # Another walk: its own checkpoint, from the top; the first walk's stays for its rerun.
    assert upper("--strategy", "set") == "checked 300 / changed 100\n"
    assert JobRun.objects.order_by("-started_at")[0].walk["resumed_after"] is None
    assert JobCheckpoint.objects.get().last_key == keys[199]
    assert upper("--strategy", "python") == "checked 100 / changed 0\n"
    assert JobCheckpoint.objects.count() == 0


def test_which_options_are_part_of_the_walks_identity():
    walk = {"strategy": "python", "shard": None}
    same = arguments_hash(walk)
    for name, value in [
        ("batch_size", 7),
        ("batch_time", 2.0),
        ("throttle", 1.0),
        ("max_lag", 3.0),
        ("max_active", 9),
        ("max_health_wait", 5.0),
        ("dry_run", True),
        ("restart", True),
        ("no_lock", True),
        ("skip_if_running", True),
        ("max_runtime", 60.0),
        ("verbosity", 3),
        ("settings", "other.settings"),
        ("pythonpath", "/elsewhere"),
        ("traceback", True),
        ("no_color", True),
        ("force_color", True),
        ("skip_checks", False),
        ("stdout", StringIO()),
        ("stderr", StringIO()),
    ]:
        assert arguments_hash({**walk, name: value}) == same, name
    assert arguments_hash({**walk, "strategy": "set"}) != same
    assert arguments_hash({**walk, "tenant": "acme"}) != same
    sharded = {**walk, "shard": "0/2"}
    assert arguments_hash(sharded) != same
    assert arguments_hash(sharded) != arguments_hash({**walk, "shard": "1/2"})
    # The plan of a sharded walk is the same for every shard: the walk less its shard.
    assert arguments_hash(sharded, shard=False) == same


# Computed by 0.3.0: a checkpoint written before an upgrade must still be found after it.
PINNED = [
    (
        {"strategy": "python"},
        "6378013500e0ff3e0c905d8f07c4321c65a4f7dab7b56de71b5d77800669b594",
        "6378013500e0ff3e0c905d8f07c4321c65a4f7dab7b56de71b5d77800669b594",
    ),
    (
        {
            "strategy": "python",
            "shard": None,
            "batch_size": 100,
            "batch_time": None,
            "throttle": 0.0,
            "max_lag": None,
            "max_active": None,
            "max_health_wait": 60.0,
            "restart": False,
            "dry_run": False,
            "no_lock": False,
            "skip_if_running": False,
            "max_runtime": None,
            "verbosity": 1,
            "settings": None,
            "pythonpath": None,
            "traceback": False,
            "no_color": False,
            "force_color": False,
            "skip_checks": True,
            "stdout": "x",
            "stderr": "y",
        },
        "6378013500e0ff3e0c905d8f07c4321c65a4f7dab7b56de71b5d77800669b594",
        "6378013500e0ff3e0c905d8f07c4321c65a4f7dab7b56de71b5d77800669b594",
    ),
    (
        {"strategy": "set", "shard": "1/4"},
        "12d641a1b9cdec0c9e4aade565194100ae87794664cccb7dd120a97ee9e77479",
        "4319c5fc53821cb62e6cb4be513ae455b2e4ab51e9dba71c4a9a3b16421f82b2",
    ),
    (
        {"tenant": "acme", "since": "2024-01-01", "shard": "0/2", "batch_size": 500},
        "96e74852d959acbdb537014b25c87f9d403ddf307db62ae3c7bb90817a0b5bc1",
        "c8d8c8de6b848dc6c93bbaf398318a490b784cc14b894288222f99d49a73e36a",
    ),
    ({}, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", None),
]


@pytest.mark.parametrize("options, walk, plan", PINNED)
def test_the_hash_of_a_walk_is_the_one_earlier_versions_computed(options, walk, plan):
    assert arguments_hash(options) == walk
    assert arguments_hash(options, shard=False) == (plan or walk)


def test_every_option_a_batch_job_gets_is_declared_in_or_out_of_the_walk():
    # The framework's options are added from one table, each with its decision; Django's own
    # are left out of the walk; every other option is the job's own and part of it.
    from django.core.management import load_command_class

    from batch_jobs.framework.arguments import JOB_OPTIONS
    from batch_jobs.framework.redact import DJANGO_DEFAULT_OPTIONS
    from batch_jobs.framework.walk import _NOT_PART_OF_THE_WALK

    parser = load_command_class("tests.testjobs", "upper_items").create_parser("", "upper_items")
    declared = {option.dest: option for option in JOB_OPTIONS}
    dests = {action.dest for action in parser._actions} - {"help", "version"}
    own = dests - set(declared) - DJANGO_DEFAULT_OPTIONS
    assert own == {"strategy"}
    assert set(declared) <= dests  # a batch job with a lock and a dry run gets them all
    for dest in dests:
        part_of_the_walk = declared[dest].part_of_the_walk if dest in declared else dest in own
        assert (dest not in _NOT_PART_OF_THE_WALK) == part_of_the_walk, dest
    assert {o.dest for o in JOB_OPTIONS if o.part_of_the_walk} == {"shard"}
