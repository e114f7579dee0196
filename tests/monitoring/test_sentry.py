"""Sentry Crons check-ins and error reports, sent by sentry-sdk to a recording server on
127.0.0.1, from real ``job`` processes."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.support.http import recording_server, silent_server

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

JOB = Path(sys.executable).with_name("job")


@pytest.fixture
def sentry():
    """A DSN whose server records every envelope; yields (dsn, items)."""
    with recording_server() as (url, requests):

        def items():
            found = []
            for _, _, body in requests:
                lines = body.split(b"\n")
                for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                    found.append((json.loads(header)["type"], json.loads(payload)))
            return found

        yield url.replace("http://", "http://publickey@") + "/42", items


@pytest.fixture
def silent_dsn():
    """A DSN whose server accepts connections and never answers."""
    with silent_server() as url:
        yield url.replace("http://", "http://publickey@") + "/42"


def job(*args, dsn, **env):
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "SENTRY_DSN": dsn, "JOB_LOG_FORMAT": "json", **env}
    return subprocess.run([JOB, *args], capture_output=True, text=True, env=env, timeout=60)


def test_a_scheduled_run_checks_in_with_its_monitor_configuration(sentry):
    dsn, items = sentry
    result = job("scheduled_noop", dsn=dsn)
    assert result.returncode == 0, result.stderr
    check_ins = [payload for kind, payload in items() if kind == "check_in"]
    assert [c["status"] for c in check_ins] == ["in_progress", "ok"]
    assert {c["monitor_slug"] for c in check_ins} == {"django-jobs-scheduled-noop"}
    assert check_ins[0]["check_in_id"] == check_ins[1]["check_in_id"]
    assert check_ins[1]["duration"] >= 0
    assert check_ins[0]["monitor_config"] == {
        "schedule": {"type": "crontab", "value": "30 2 * * *"},
        "timezone": "UTC",
        "checkin_margin": 5,
        "max_runtime": 61,  # minutes: max_runtime 3600 s plus the 60 s grace, rounded up
    }
    assert not [kind for kind, _ in items() if kind == "event"]


@pytest.mark.parametrize(("code", "issues"), [(1, 1), (65, 1), (75, 0), (143, 0)])
def test_failures_check_in_as_errors_and_only_lasting_ones_open_an_issue(sentry, code, issues):
    dsn, items = sentry
    result = job("scheduled_noop", "--exit", str(code), dsn=dsn)
    assert result.returncode == code
    check_ins = [payload for kind, payload in items() if kind == "check_in"]
    assert [c["status"] for c in check_ins] == ["in_progress", "error"]
    events = [payload for kind, payload in items() if kind == "event"]
    assert len(events) == issues  # once, not again from the excepthook
    for event in events:
        assert event["tags"]["job"] == "scheduled_noop"
        assert event["tags"]["exit_code"] == str(code)
        assert int(event["tags"]["run_id"]) > 0
    if code == 1:
        (exception,) = events[0]["exception"]["values"]
        assert (exception["type"], exception["value"]) == (
            "RuntimeError",
            "a bug in scheduled_noop",
        )


@pytest.mark.parametrize("where", ["refused", "silent"])
def test_a_sentry_that_fails_or_hangs_is_one_log_line(silent_dsn, where):
    dsn = silent_dsn if where == "silent" else "http://publickey@127.0.0.1:9/42"
    started = time.monotonic()
    result = job("scheduled_noop", dsn=dsn, JOB_MONITOR_TIMEOUT="1")
    assert result.returncode == 0, result.stderr
    assert "nothing to do" in result.stdout
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # JSON events only
    failed = [line for line in lines if line.get("event") == "monitor_failed"]
    assert len(failed) == 1, result.stderr
    assert failed[0]["message"].startswith("sentry finish failed: ")
    assert time.monotonic() - started < 15


def test_unscheduled_jobs_and_dry_runs_send_no_check_ins(sentry):
    dsn, items = sentry
    assert job("echo_args", "x", dsn=dsn).returncode == 0
    assert job("scheduled_noop", "--dry-run", dsn=dsn).returncode == 0
    assert [kind for kind, _ in items()] == []
