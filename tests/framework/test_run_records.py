"""Run records: a failure recorded though its work rolled back, arguments with secrets
redacted, the finish event's level by outcome, and the admin's read-only list."""

import pytest

from batch_jobs.models import JobRun
from batch_jobs.testing import run_job

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_planned_stop_finishes_at_warning_and_a_failure_at_error(caplog):
    with caplog.at_level("INFO", logger="batch_jobs"):
        assert run_job("slow_batches", batches=50, size=1, sleep=0.05, max_runtime=0.1).exception
        assert run_job("fail_with", 65).exception
    finishes = [r for r in caplog.records if getattr(r, "event", None) == "finish"]
    assert [(r.status, r.levelname) for r in finishes] == [
        ("interrupted", "WARNING"),
        ("failed", "ERROR"),
    ]


def test_a_failed_run_is_recorded_although_its_work_rolled_back():
    result = run_job("fail_with", 65, message="line 3: bad amount")
    assert result.exit_code == 65
    record = JobRun.objects.get(job="fail_with")
    assert (record.status, record.exit_code, record.error) == ("failed", 65, "line 3: bad amount")


def test_arguments_are_recorded_with_secrets_redacted():
    run_job("echo_args", "--", "--password=hunter2", "plain")
    record = JobRun.objects.get(job="echo_args")
    assert record.arguments["words"] == ["--password=***", "plain"]


def test_the_admin_lists_runs_read_only(admin_client):
    JobRun.objects.create(job="cleanup_tokens", status="succeeded", exit_code=0)
    page = admin_client.get("/admin/batch_jobs/jobrun/?status__exact=succeeded")
    assert page.status_code == 200
    assert b"cleanup_tokens" in page.content
    assert admin_client.get("/admin/batch_jobs/jobrun/add/").status_code == 403
