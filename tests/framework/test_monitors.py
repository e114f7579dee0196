"""Monitor pings: start and exit code to JOB_PING_URL; a failing monitor changes nothing."""

import pytest

from batch_jobs.models import JobRun
from batch_jobs.testing import run_job
from tests.support.http import recording_server

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def ping_server():
    with recording_server() as (url, requests):
        yield f"{url}/ping/abc", requests


def test_ping_url_receives_start_and_exit_code(settings, ping_server):
    settings.JOB_PING_URL, requests = ping_server
    assert run_job("echo_args", dry_run=True).exit_code == 0
    assert run_job("fail_with", 65).exit_code == 65
    paths = [path for _, path, _ in requests]
    assert paths == ["/ping/abc/start", "/ping/abc/0", "/ping/abc/start", "/ping/abc/65"]


def test_a_failing_monitor_does_not_change_the_outcome(settings):
    settings.JOB_PING_URL = "http://127.0.0.1:9/unreachable"
    assert run_job("echo_args", "word").stdout == '"word"\n'
    assert JobRun.objects.get().status == "succeeded"
