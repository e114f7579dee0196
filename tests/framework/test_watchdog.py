"""The client-side database deadline, in-process against a real PostgreSQL."""

import time

import pytest
from django.core.management import call_command
from django.db import connection

from batch_jobs import JobCommand
from batch_jobs.framework.watchdog import WATCHDOG, DatabaseTimeout
from batch_jobs.models import JobRun

pytestmark = pytest.mark.django_db(transaction=True)


def count_items():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM testjobs_item")
        return cursor.fetchone()[0]


@pytest.mark.server
def test_a_nested_shorter_limit_cuts_a_statement_the_outer_one_would_wait_for(table_locked):
    limits = [300]  # as lifecycle's runs in progress give it: the innermost run's deadline
    with WATCHDOG.watching(lambda: limits[-1]):
        with WATCHDOG.guard():  # the watching thread now waits for this long deadline
            time.sleep(0.1)  # kept: the case under test is a guard that has waited a while
        limits.append(0.3)
        with pytest.raises(DatabaseTimeout) as excinfo:
            count_items()
    assert str(excinfo.value) == "no answer from the database within 0.3s (JOB_DB_TIMEOUT)"
    assert isinstance(excinfo.value.__cause__, Exception)  # the lost connection, kept as cause
    assert connection.connection is None  # closed: the next query opens a new one


class Inner(JobCommand):
    class Job:
        lock = False
        db_timeout = 0.3

    def handle(self, *args, **options):
        count_items()


class Outer(JobCommand):
    class Job:
        lock = False
        db_timeout = 300

    def handle(self, *args, **options):
        with WATCHDOG.guard():  # the watching thread now waits for this long deadline
            time.sleep(0.1)
        call_command(Inner())


@pytest.mark.server
def test_a_job_run_by_another_job_has_its_own_deadline_and_the_outer_run_as_parent(
    table_locked,
):
    with pytest.raises(DatabaseTimeout, match=r"within 0\.3s"):
        call_command(Outer())
    outer, inner = JobRun.objects.order_by("pk")
    assert (inner.parent_id, outer.parent_id) == (outer.pk, None)
    assert (inner.status, inner.exit_code) == ("failed", 75)
    assert (outer.status, outer.exit_code) == ("failed", 75)


def test_statements_that_answer_in_time_pass_untouched():
    with WATCHDOG.watching(5):
        assert count_items() == 0
        with WATCHDOG.guard():
            assert count_items() == 0
    assert connection.connection is not None
