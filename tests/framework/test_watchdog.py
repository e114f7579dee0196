"""The client-side database deadline, in-process against a real PostgreSQL."""

import time

import pytest
from django.db import connection

from batch_jobs.framework.watchdog import WATCHDOG, DatabaseTimeout

pytestmark = pytest.mark.django_db(transaction=True)


def count_items():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM testjobs_item")
        return cursor.fetchone()[0]


@pytest.mark.postgresql
def test_a_nested_shorter_limit_cuts_a_statement_the_outer_one_would_wait_for(table_locked):
    with WATCHDOG.watching(300):
        with WATCHDOG.guard():  # the watching thread now waits for this long deadline
            time.sleep(0.1)  # kept: the case under test is a guard that has waited a while
        with WATCHDOG.watching(0.3), pytest.raises(DatabaseTimeout) as excinfo:
            count_items()
    assert str(excinfo.value) == "no answer from the database within 0.3s (JOB_DB_TIMEOUT)"
    assert isinstance(excinfo.value.__cause__, Exception)  # the lost connection, kept as cause
    assert connection.connection is None  # closed: the next query opens a new one


def test_statements_that_answer_in_time_pass_untouched():
    with WATCHDOG.watching(5):
        assert count_items() == 0
        with WATCHDOG.guard():
            assert count_items() == 0
    assert connection.connection is not None
