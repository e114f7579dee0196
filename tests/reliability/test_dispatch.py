"""The dispatcher's guarantees through real processes (``jobctl worker`` and the ``job``
processes it starts, on the test database): two workers never run one request twice nor
lose one, and SIGTERM to a worker mid-run stops its job with 143 and hands the request back,
for the next worker to resume from its checkpoint. `make test` runs a sample of four
requests; `make reliability` (RELIABILITY=full) twenty, and the SIGTERM case."""

import collections
import signal

import pytest

from batch_jobs.models import JobCheckpoint, JobRun, RunRequest
from batch_jobs.operations.control import request_start
from tests.ctl.test_worker import jobctl, worker
from tests.support.reliability import cases, full_only
from tests.support.waits import wait_for
from tests.testjobs.models import Item

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.server,  # two writers at once: SQLite has one at a time
]


def test_two_workers_run_each_of_the_pending_requests_exactly_once(report):
    count = cases(20, 4)
    starts = [request_start("echo_args", [f"word-{n}"], "eve") for n in range(count)]
    workers = [worker("--drain"), worker("--drain")]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    runs = collections.Counter(tuple(r.argv) for r in JobRun.objects.filter(job="echo_args"))
    lost = sum(1 for n in range(count) if (f"word-{n}",) not in runs)
    doubled = sum(times - 1 for times in runs.values())
    report.add("dispatcher: two workers drain", 0, {0}, lost=lost, doubled=doubled)
    assert runs == {(f"word-{n}",): 1 for n in range(count)}  # each once, none lost
    requests = RunRequest.objects.filter(pk__in=[s.pk for s in starts])
    assert {(r.exit_code, r.handled_at is not None) for r in requests} == {(0, True)}
    assert len({r.started_run_id for r in requests}) == count
    ran = sum(int(out.split("ran ")[1].split(" ")[0]) for _, out in outputs)
    assert ran == count


@full_only
def test_sigterm_stops_the_run_143_and_the_next_worker_resumes_it_once(report):
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(200))
    start = request_start("upper_items", ["--batch-size", "10", "--throttle", "0.2"], "fay")
    first = worker("--poll", "0.2")
    wait_for(JobCheckpoint.objects.exists, "a checkpoint of upper_items: a batch committed")
    running = JobRun.objects.get(job="upper_items", status="running")
    first.send_signal(signal.SIGTERM)
    _, said = first.communicate(timeout=120)
    assert first.returncode == 143, said
    report.add("dispatcher: SIGTERM mid-run", first.returncode, {143})
    running.refresh_from_db()
    assert (running.status, running.exit_code) == ("interrupted", 143)
    done = running.counters["changed"]
    assert 0 < done < 200 and JobCheckpoint.objects.get().rows == done
    start.refresh_from_db()
    assert (start.claimed_at, start.handled_at, start.exit_code) == (None, None, 143)  # pending
    assert jobctl("worker", "--drain").returncode == 0
    start.refresh_from_db()
    resumed = start.started_run
    assert resumed.pk != running.pk and start.exit_code == 0 and start.handled_at
    assert (resumed.status, resumed.counters["changed"]) == ("succeeded", 200 - done)  # none twice
    assert JobRun.objects.filter(job="upper_items").count() == 2
    assert not Item.objects.exclude(name__startswith="ITEM").exists()
