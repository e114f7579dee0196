"""Jobs as the tutorials test them: ``batch_jobs.testing.run_job`` (or ``call_command``) in a
plain ``django.test.TestCase``.

The run record joins the test's transaction (so nothing leaks between tests) and the overlap
lock is taken on the test's own session (so nothing waits on it), whatever
``JOB_CONTROL_DATABASE`` says.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase, override_settings

from batch_jobs.models import JobRun
from batch_jobs.testing import run_job
from tests.support.locks import hold_lock
from tests.support.sessions import open_session
from tests.testjobs.models import Item


def run(name, *args, **options):
    result = run_job(name, *args, **options)
    assert result.exit_code == 0, result.stderr
    return result.stdout


class JobsInATestCase(TestCase):
    def test_a_run_writes_its_work_and_its_record_inside_the_test(self):
        assert run("slow_batches", batches=2, size=3, sleep=0).endswith("wrote 6 rows\n")
        self.assertEqual(Item.objects.count(), 6)
        record = JobRun.objects.get()
        self.assertEqual(
            (record.job, record.status, record.exit_code), ("slow_batches", "succeeded", 0)
        )
        self.assertEqual(record.counters, {"batches": 2, "rows": 6})

    def test_each_test_starts_from_nothing(self):
        run("slow_batches", batches=1, size=1, sleep=0)
        self.assertEqual(JobRun.objects.count(), 1)
        self.assertEqual(Item.objects.count(), 1)

    @override_settings(JOB_CONTROL_DATABASE="job_control")
    def test_a_separate_control_database_is_not_needed_under_test(self):
        run("echo_args", "x")
        self.assertEqual(JobRun.objects.get().status, "succeeded")

    @pytest.mark.server
    def test_a_lock_held_elsewhere_is_seen(self):
        with open_session() as other:
            hold_lock(other, "django-jobs:slow_batches")
            with self.assertRaises(CommandError) as raised:
                call_command("slow_batches", batches=1, sleep=0, stdout=StringIO())
            result = run_job("slow_batches", batches=1, sleep=0)
        self.assertEqual(raised.exception.returncode, 75)
        self.assertEqual((result.exit_code, result.record.status), (75, "blocked"))
        self.assertEqual(Item.objects.count(), 0)
