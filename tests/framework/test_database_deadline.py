"""The database deadline (JOB_DB_TIMEOUT): server timeouts are temporary failures, a statement
or a batch with no answer ends the run with 75, and self.atomic's deadline covers the COMMIT."""

import threading

import pytest
from django.db import OperationalError

from batch_jobs.models import JobCheckpoint, JobRun
from batch_jobs.testing import run_job
from tests.support.locks import lock_is_free, unlock, waited_on
from tests.support.waits import wait_for
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.mark.postgresql
@pytest.mark.parametrize("kind", ["statement", "lock"])
def test_statement_and_lock_timeouts_are_temporary_failures(kind, other_session):
    if kind == "lock":
        other_session.execute("BEGIN")
        other_session.execute("LOCK TABLE testjobs_item IN ACCESS EXCLUSIVE MODE")
    result = run_job("db_timeout", kind)
    assert isinstance(result.exception, OperationalError)  # in-process, as the job raised it
    if kind == "lock":
        other_session.execute("ROLLBACK")
    record = JobRun.objects.get(job="db_timeout")
    assert (record.status, record.exit_code) == ("failed", 75)
    assert record.error.startswith("database error, safe to retry: canceling statement")


# The lock lives on a connection apart from the job's, whether the framework opens it (None)
# or the project names one: cut, it frees the lock at once, although the job's own backend is
# still stuck in its statement.
@pytest.mark.server
@pytest.mark.parametrize("control", [None, "job_control"])
def test_a_statement_with_no_answer_ends_the_run_with_75(settings, table_locked, control):
    settings.JOB_CONTROL_DATABASE = control
    settings.JOB_DB_TIMEOUT = 0.5
    assert isinstance(run_job("db_timeout", "wait").exception, OperationalError)
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


@pytest.mark.server
def test_a_batch_with_no_answer_rolls_back_and_the_rerun_completes(settings, items, table_locked):
    settings.JOB_DB_TIMEOUT = 0.5
    assert isinstance(run_job("upper_items", batch_size=10).exception, OperationalError)
    record = JobRun.objects.get(job="upper_items")
    assert record.exit_code == 75
    assert "no answer from the database within 0.5s" in record.error
    unlock(table_locked)
    assert not Item.objects.filter(name__startswith="ITEM").exists()
    assert not JobCheckpoint.objects.exists()
    assert run_job("upper_items", batch_size=10).exit_code == 0
    assert sorted(Item.objects.values_list("name", flat=True)) == sorted(
        f"ITEM-{i}" for i in range(30)
    )


def unlock_once_waited_on(session):
    """End ``session``'s lock on testjobs_item once another session waits for it."""
    wait_for(lambda: waited_on(session), "the job to wait on the table's lock")
    unlock(session)


@pytest.mark.server
def test_db_timeout_zero_waits_for_the_answer(settings, table_locked):
    settings.JOB_DB_TIMEOUT = 0
    threading.Thread(target=unlock_once_waited_on, args=[table_locked], daemon=True).start()
    assert run_job("db_timeout", "wait").exit_code == 0
    assert JobRun.objects.get(job="db_timeout").status == "succeeded"


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
    assert isinstance(
        run_job("slow_batches", batches=1, size=1, sleep=0).exception, OperationalError
    )
    record = JobRun.objects.get(job="slow_batches")
    assert record.exit_code == 75
    assert "no answer from the database within 0.5s" in record.error
