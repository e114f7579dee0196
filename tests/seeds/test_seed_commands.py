"""The seed tutorial's three commands, converted by changing only their base class: run
through ``call_command`` as the tutorial does, and from the command line, where the exit-code
contract holds (0, 2 for bad arguments, 75 for a held lock, 1 with a traceback for a bug, 143
and 130 for SIGTERM and SIGINT mid-run)."""

import json
import os
import signal
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from myapp.models import AuthToken, DailyStat, Order, User

from batch_jobs.framework.lock import lock_id
from batch_jobs.models import JobRun
from tests.support.waits import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def environment():
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.seeds.settings"}


def command_line(*args):
    """``python -m django *args`` (``manage.py``'s entry point) with the seed settings."""
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def events(stderr):
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


@pytest.fixture
def tokens():
    now = timezone.now()
    AuthToken.objects.create(value="old", created_at=now - timedelta(days=60))
    AuthToken.objects.create(value="new", created_at=now)


# -- call_command, as the tutorial calls them ------------------------------------------------


def test_cleanup_tokens_keeps_its_own_dry_run_and_is_recorded(tokens):
    out = StringIO()
    call_command("cleanup_tokens", days=7, dry_run=True, stdout=out)
    assert out.getvalue() == "[dry-run] 1 candidates for deletion\n"
    record = JobRun.objects.get(job="cleanup_tokens")
    assert (record.status, record.exit_code, record.dry_run) == ("succeeded", 0, True)
    assert record.arguments["days"] == 7 and record.arguments["dry_run"] is True
    call_command("cleanup_tokens", stdout=out)
    assert AuthToken.objects.get().value == "new"


def test_compute_daily_stats_loads_a_day_idempotently():
    day = date(2026, 3, 14)
    when = timezone.make_aware(timezone.datetime(2026, 3, 14, 12))
    Order.objects.create(amount=Decimal("10.50"), created_at=when)
    Order.objects.create(amount=Decimal("4.50"), created_at=when)
    for _ in range(2):
        out = StringIO()
        call_command("compute_daily_stats", date="2026-03-14", stdout=out)
    assert out.getvalue() == "2026-03-14: 2 orders / 15.00\n"
    stat = DailyStat.objects.get()
    assert (stat.date, stat.order_count, stat.total_amount) == (day, 2, Decimal("15.00"))
    assert JobRun.objects.filter(job="compute_daily_stats", status="succeeded").count() == 2


def test_compute_daily_stats_raises_its_own_error_in_process():
    with pytest.raises(ValueError, match="does not match format"):
        call_command("compute_daily_stats", date="14/03/2026", stdout=StringIO())
    record = JobRun.objects.get(job="compute_daily_stats")
    assert (record.status, record.exit_code) == ("failed", 1)
    assert record.error.startswith("ValueError: time data '14/03/2026'")


def test_normalize_emails_with_its_own_batch_size_and_dry_run():
    emails = [" Ann@X.org", "BOB@x.org", "cat@x.org", "Dan@X.org "]
    User.objects.bulk_create(User(email=e) for e in emails)
    out = StringIO()
    call_command("normalize_emails", batch_size=2, dry_run=True, stdout=out)
    assert out.getvalue().splitlines() == [
        " progress 2...",
        " progress 4...",
        "checked 4 / changed 3 (dry)",
    ]
    assert sorted(User.objects.values_list("email", flat=True)) == sorted(emails)
    record = JobRun.objects.get(job="normalize_emails")
    assert (record.dry_run, record.arguments["batch_size"]) == (True, 2)
    call_command("normalize_emails", stdout=out)
    assert sorted(User.objects.values_list("email", flat=True)) == [
        "ann@x.org",
        "bob@x.org",
        "cat@x.org",
        "dan@x.org",
    ]


# -- the command line: the exit-code contract ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "output"),
    [
        (["cleanup_tokens", "--dry-run"], "[dry-run] 1 candidates for deletion\n"),
        (["compute_daily_stats", "--date", "2026-03-14"], "2026-03-14: 0 orders / None\n"),
        (["normalize_emails", "--batch-size", "10"], "checked 0 / changed 0 (commit)\n"),
    ],
)
def test_each_command_exits_0_from_the_command_line(tokens, args, output):
    result = command_line(*args)
    assert (result.returncode, result.stdout) == (0, output), result.stderr
    finish = events(result.stderr)[-1]
    assert (finish["event"], finish["job"], finish["exit_code"]) == ("finish", args[0], 0)


def test_from_the_command_line_a_run_exits_0_and_logs_its_events(tokens):
    result = command_line("cleanup_tokens", "--days", "30")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Deleted 1 tokens (cutoff=")
    assert [e["event"] for e in events(result.stderr)] == ["start", "finish"]
    assert JobRun.objects.get(job="cleanup_tokens").argv == ["--days", "30"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cleanup_tokens", "--days", "many"], "argument --days: invalid int value: 'many'"),
        (["normalize_emails", "--batch-size", "x"], "--batch-size: invalid int value: 'x'"),
        (["compute_daily_stats", "--no-such-option"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2(args, message):
    result = command_line(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert not JobRun.objects.exists()


def test_a_held_lock_exits_75_with_one_line(tokens, other_session):
    other_session.execute("SELECT pg_advisory_lock(%s)", [lock_id("django-jobs:cleanup_tokens")])
    result = command_line("cleanup_tokens")
    assert result.returncode == 75
    assert "CommandError: already running: cleanup_tokens is held by" in result.stderr
    assert "Traceback" not in result.stderr
    assert AuthToken.objects.count() == 2


def test_a_bug_exits_1_with_its_traceback():
    result = command_line("compute_daily_stats", "--date", "2026-13-45")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ValueError: unconverted data" not in result.stdout
    assert "ValueError" in result.stderr
    record = JobRun.objects.get(job="compute_daily_stats")
    assert (record.status, record.exit_code) == ("failed", 1)


@pytest.mark.parametrize(
    ("job", "table", "signum", "code"),
    [
        ("normalize_emails", "myapp_user", signal.SIGTERM, 143),
        ("normalize_emails", "myapp_user", signal.SIGINT, 130),
        ("cleanup_tokens", "myapp_authtoken", signal.SIGTERM, 143),
        ("compute_daily_stats", "myapp_order", signal.SIGTERM, 143),
    ],
)
def test_a_signal_mid_run_stops_at_once(other_session, job, table, signum, code):
    """None of the seed's commands calls check_stop(): each stops at the first signal, as a
    BaseCommand does, rolling back what it had not committed."""
    User.objects.bulk_create(User(email=f"  User{i}@X.org") for i in range(50))
    other_session.execute("BEGIN")
    other_session.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # it waits there
    process = subprocess.Popen(
        [sys.executable, "-m", "django", job],
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_a_running_record(job)
        wait_for(  # into its query, which the lock holds
            lambda: other_session.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                [table],
            ).fetchone()[0],
            f"{job} to wait on the lock of {table}",
        )
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)  # not after the lock: it is still held
    finally:
        process.kill()
        other_session.execute("ROLLBACK")
    assert process.returncode == code, stderr
    name = signal.Signals(signum).name
    assert f"CommandError: stopped by {name}" in stderr
    record = JobRun.objects.get(job=job)
    assert (record.status, record.exit_code) == ("interrupted", code)
    assert not User.objects.filter(email__startswith="user").exists()
    assert not DailyStat.objects.exists()


def wait_for_a_running_record(job):
    wait_for(JobRun.objects.filter(job=job, status="running").exists, f"{job} to start")
