"""JobCommand in-process against a real PostgreSQL: lock, run records, stop, pings, logs."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.utils import timezone

from batch_jobs.framework.lock import lock_id
from batch_jobs.models import JobCheckpoint, JobRun
from tests.support.http import recording_server
from tests.support.locks import lock_is_free, unlock
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

LOCK_KEY = "django-jobs:slow_batches"


def run(name, *args, **options):
    out = StringIO()
    call_command(name, *args, stdout=out, **options)
    return out.getvalue()


@pytest.mark.postgresql
def test_a_held_lock_makes_the_run_exit_75_naming_the_holder(other_session):
    holder = JobRun.objects.create(job="slow_batches", lock_key=LOCK_KEY, host="pod-a", pid=42)
    other_session.execute("SELECT pg_advisory_lock(%s)", [lock_id(LOCK_KEY)])
    with pytest.raises(CommandError) as excinfo:
        run("slow_batches", batches=1, sleep=0)
    assert excinfo.value.returncode == 75
    assert f"already running: slow_batches is held by run {holder.pk}" in str(excinfo.value)
    assert "on pod-a (pid 42)" in str(excinfo.value)
    assert Item.objects.count() == 0
    blocked = JobRun.objects.get(status="blocked")
    assert blocked.exit_code == 75


@pytest.mark.postgresql
def test_a_lost_lock_race_is_logged_as_a_warning(other_session, caplog):
    other_session.execute("SELECT pg_advisory_lock(%s)", [lock_id(LOCK_KEY)])
    with caplog.at_level("INFO", logger="batch_jobs"), pytest.raises(CommandError):
        run("slow_batches", batches=1, sleep=0)
    (event,) = [r for r in caplog.records if getattr(r, "event", None)]
    assert (event.event, event.levelname, event.exit_code) == ("blocked", "WARNING", 75)
    assert event.run_id == JobRun.objects.get(status="blocked").pk


def test_a_planned_stop_finishes_at_warning_and_a_failure_at_error(caplog):
    with caplog.at_level("INFO", logger="batch_jobs"):
        with pytest.raises(CommandError):
            run("slow_batches", batches=50, size=1, sleep=0.05, max_runtime=0.1)
        with pytest.raises(CommandError):
            run("fail_with", 65)
    finishes = [r for r in caplog.records if getattr(r, "event", None) == "finish"]
    assert [(r.status, r.levelname) for r in finishes] == [
        ("interrupted", "WARNING"),
        ("failed", "ERROR"),
    ]


@pytest.mark.postgresql
def test_skip_if_running_exits_0_and_records_a_skip(other_session):
    other_session.execute("SELECT pg_advisory_lock(%s)", [lock_id(LOCK_KEY)])
    assert run("slow_batches", batches=1, sleep=0, skip_if_running=True) == ""
    assert Item.objects.count() == 0
    assert JobRun.objects.get().status == "skipped"
    assert JobRun.objects.get().exit_code == 0


@pytest.mark.postgresql
def test_no_lock_runs_alongside_a_holder(other_session):
    other_session.execute("SELECT pg_advisory_lock(%s)", [lock_id(LOCK_KEY)])
    run("slow_batches", batches=1, size=3, sleep=0, no_lock=True)
    assert Item.objects.count() == 3


@pytest.mark.postgresql
def test_the_lock_is_released_after_the_run(other_session):
    run("slow_batches", batches=1, sleep=0)
    acquired = other_session.execute(
        "SELECT pg_try_advisory_lock(%s)", [lock_id(LOCK_KEY)]
    ).fetchone()[0]
    assert acquired is True


def test_a_dead_holders_running_record_is_marked_abandoned():
    dead = JobRun.objects.create(job="slow_batches", lock_key=LOCK_KEY, host="gone", pid=1)
    run("slow_batches", batches=1, sleep=0)
    dead.refresh_from_db()
    assert dead.status == "abandoned"
    assert dead.finished_at is not None
    assert "died without finishing" in dead.error


def test_a_failed_run_is_recorded_although_its_work_rolled_back():
    with pytest.raises(CommandError) as excinfo:
        run("fail_with", 65, message="line 3: bad amount")
    assert excinfo.value.returncode == 65
    record = JobRun.objects.get(job="fail_with")
    assert (record.status, record.exit_code, record.error) == ("failed", 65, "line 3: bad amount")


def test_max_runtime_stops_at_a_batch_boundary_with_75():
    with pytest.raises(CommandError) as excinfo:
        run("slow_batches", batches=50, size=4, sleep=0.05, max_runtime=0.2)
    assert excinfo.value.returncode == 75
    record = JobRun.objects.get(job="slow_batches")
    assert record.status == "interrupted"
    assert 0 < record.counters["batches"] < 50
    assert Item.objects.count() == record.counters["batches"] * 4


def test_arguments_are_recorded_with_secrets_redacted():
    run("echo_args", "--", "--password=hunter2", "plain")
    record = JobRun.objects.get(job="echo_args")
    assert record.arguments["words"] == ["--password=***", "plain"]


def test_prune_job_runs_deletes_only_old_finished_records():
    now = timezone.now()
    old = JobRun.objects.create(job="x", status="succeeded", finished_at=now - timedelta(days=40))
    recent = JobRun.objects.create(job="x", status="failed", finished_at=now - timedelta(days=5))
    stuck = JobRun.objects.create(job="x", status="running", started_at=now - timedelta(days=90))
    assert run("prune_job_runs", "--older-than", "30", "--dry-run").startswith("[dry-run] 1 ")
    assert JobRun.objects.filter(pk=old.pk).exists()
    run("prune_job_runs", "--older-than", "30")
    assert not JobRun.objects.filter(pk=old.pk).exists()
    assert JobRun.objects.filter(pk__in=[recent.pk, stuck.pk]).count() == 2


@pytest.fixture
def ping_server():
    with recording_server() as (url, requests):
        yield f"{url}/ping/abc", requests


def test_ping_url_receives_start_and_exit_code(settings, ping_server):
    settings.JOB_PING_URL, requests = ping_server
    run("echo_args", dry_run=True)
    with pytest.raises(CommandError):
        run("fail_with", 65)
    paths = [path for _, path, _ in requests]
    assert paths == ["/ping/abc/start", "/ping/abc/0", "/ping/abc/start", "/ping/abc/65"]


def test_a_failing_monitor_does_not_change_the_outcome(settings):
    settings.JOB_PING_URL = "http://127.0.0.1:9/unreachable"
    assert run("echo_args", "word") == '"word"\n'
    assert JobRun.objects.get().status == "succeeded"


@pytest.mark.postgresql
@pytest.mark.parametrize("kind", ["statement", "lock"])
def test_statement_and_lock_timeouts_are_temporary_failures(kind, other_session):
    if kind == "lock":
        other_session.execute("BEGIN")
        other_session.execute("LOCK TABLE testjobs_item IN ACCESS EXCLUSIVE MODE")
    with pytest.raises(OperationalError):  # in-process, as the job raised it
        run("db_timeout", kind)
    if kind == "lock":
        other_session.execute("ROLLBACK")
    record = JobRun.objects.get(job="db_timeout")
    assert (record.status, record.exit_code) == ("failed", 75)
    assert record.error.startswith("database error, safe to retry: canceling statement")


# The lock lives on a connection apart from the job's, whether the framework opens it (None)
# or the project names one: cut, it frees the lock at once, although the job's own backend is
# still stuck in its statement.
@pytest.mark.postgresql
@pytest.mark.parametrize("control", [None, "job_control"])
def test_a_statement_with_no_answer_ends_the_run_with_75(settings, table_locked, control):
    settings.JOB_CONTROL_DATABASE = control
    settings.JOB_DB_TIMEOUT = 0.5
    with pytest.raises(OperationalError):
        run("db_timeout", "wait")
    # The finish was written on a new connection; the one holding the lock was closed.
    record = JobRun.objects.using(control or "default").get(job="db_timeout")
    assert (record.status, record.exit_code) == ("failed", 75)
    assert record.error == (
        "database error, safe to retry: no answer from the database within 0.5s (JOB_DB_TIMEOUT)"
    )
    assert lock_is_free(table_locked, "django-jobs:db_timeout")


@pytest.fixture
def items():
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(30))


@pytest.mark.postgresql
def test_a_batch_with_no_answer_rolls_back_and_the_rerun_completes(settings, items, table_locked):
    settings.JOB_DB_TIMEOUT = 0.5
    with pytest.raises(OperationalError):
        run("upper_items", batch_size=10)
    record = JobRun.objects.get(job="upper_items")
    assert record.exit_code == 75
    assert "no answer from the database within 0.5s" in record.error
    unlock(table_locked)
    assert not Item.objects.filter(name__startswith="ITEM").exists()
    assert not JobCheckpoint.objects.exists()
    run("upper_items", batch_size=10)
    assert sorted(Item.objects.values_list("name", flat=True)) == sorted(
        f"ITEM-{i}" for i in range(30)
    )


@pytest.mark.postgresql
def test_db_timeout_zero_waits_for_the_answer(settings, table_locked):
    settings.JOB_DB_TIMEOUT = 0
    threading.Timer(1.0, unlock, [table_locked]).start()
    run("db_timeout", "wait")
    assert JobRun.objects.get(job="db_timeout").status == "succeeded"


def test_progress_events_off_a_terminal(settings, caplog):
    settings.JOB_PROGRESS_INTERVAL = 0
    with caplog.at_level("INFO", logger="batch_jobs"):
        run("slow_batches", batches=3, size=2, sleep=0)
    progress = [r for r in caplog.records if getattr(r, "event", None) == "progress"]
    assert [(r.done, r.total) for r in progress] == [(2, 6), (4, 6), (6, 6)]
    assert progress[-1].counters == {"batches": 3, "rows": 6}
    assert JobRun.objects.get(job="slow_batches").counters == {"batches": 3, "rows": 6}


@pytest.mark.postgresql
def test_the_run_record_holds_live_progress_with_an_estimated_total(settings, monkeypatch):
    settings.JOB_PROGRESS_INTERVAL = 0
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(250))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE testjobs_item")  # PostgreSQL's estimate: pg_class.reltuples
    saved = []
    original = JobRun.save

    def spy(self, *args, **kwargs):
        if self.progress and self.status == "running":
            saved.append(dict(self.progress))
        original(self, *args, **kwargs)

    monkeypatch.setattr(JobRun, "save", spy)
    run("upper_items", batch_size=100)
    assert [p["done"] for p in saved] == [100, 200, 250]  # written while the run was live
    assert all(p["total"] == 250 and p["estimated"] for p in saved)
    assert all(p["rate"] > 0 and "eta_s" in p and "at" in p for p in saved)
    assert saved[-1]["eta_s"] == 0
    assert JobRun.objects.get(job="upper_items").progress["done"] == 250


def test_a_finished_record_holds_the_last_progress_even_between_reports(settings):
    settings.JOB_PROGRESS_INTERVAL = 3600  # no report while it runs
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(250))
    run("upper_items", batch_size=100)
    progress = JobRun.objects.get(job="upper_items").progress
    assert (progress["done"], progress["unit"]) == (250, "rows")


def test_the_admin_lists_runs_read_only(admin_client):
    JobRun.objects.create(job="cleanup_tokens", status="succeeded", exit_code=0)
    page = admin_client.get("/admin/batch_jobs/jobrun/?status__exact=succeeded")
    assert page.status_code == 200
    assert b"cleanup_tokens" in page.content
    assert admin_client.get("/admin/batch_jobs/jobrun/add/").status_code == 403


@pytest.mark.parametrize(
    ("job", "args", "message"),
    [
        ("upper_items", ["--batch-size", "0"], "must be a positive whole number, not '0'"),
        ("upper_items", ["--throttle", "-1"], "must be zero or more seconds, not '-1'"),
        ("echo_args", ["--max-runtime", "0"], "must be a positive number of seconds"),
    ],
)
def test_framework_options_refuse_out_of_range_values(job, args, message):
    with pytest.raises(CommandError, match=message):
        run(job, *args)


@pytest.fixture
def slow_commit(other_session):
    """Every COMMIT that inserted items takes two seconds (a deferred trigger sleeps)."""
    other_session.execute(
        "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$"
    )
    other_session.execute(
        "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON testjobs_item "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()"
    )
    yield
    other_session.execute("DROP TRIGGER slow_commit ON testjobs_item")
    other_session.execute("DROP FUNCTION slow_commit()")


@pytest.mark.postgresql
def test_the_deadline_of_self_atomic_covers_the_commit(settings, slow_commit):
    settings.JOB_DB_TIMEOUT = 0.5
    with pytest.raises(OperationalError):
        run("slow_batches", batches=1, size=1, sleep=0)
    record = JobRun.objects.get(job="slow_batches")
    assert record.exit_code == 75
    assert "no answer from the database within 0.5s" in record.error
