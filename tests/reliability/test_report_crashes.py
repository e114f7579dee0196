"""send_daily_report killed (SIGKILL) before, inside and after an SMTP transaction, then run
again: every recipient ends with exactly one accepted copy, as the README promises. A real
``job`` process against a real SMTP server (aiosmtpd) and PostgreSQL."""

import datetime
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from app.store.models import DailyStat, ReportDelivery
from batch_jobs.models import JobRun
from tests.support.smtp import SMTPServer

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

JOB = Path(sys.executable).with_name("job")
DAY = "2026-11-22"
TO = ["first@example.com", "second@example.com", "third@example.com"]


@pytest.fixture
def figures():
    DailyStat.objects.create(
        date=datetime.date.fromisoformat(DAY), order_count=7, total_amount=Decimal("70.00")
    )


def start_report(smtp):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/"
        f"{db['NAME']}",
        "EMAIL_URL": smtp.url,
        "EMAIL_TIMEOUT": "20",
        "JOB_LOG_FORMAT": "json",
    }
    words = [w for r in TO for w in ("--to", r)]
    return subprocess.Popen(
        [JOB, "send_daily_report", "--date", DAY, *words],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_at(smtp, command, nth):
    """Run the report until the server holds its ``nth`` ``command``; SIGKILL it there."""
    reached, release = smtp.recorder.hold(command, nth)
    process = start_report(smtp)
    try:
        assert reached.wait(60), process.communicate(timeout=5)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
        release.set()  # the server goes on; its client is gone
    return process.returncode


# (case, the command the server holds when the job is killed, which one of them)
CRASHES = [
    ("before the SMTP transaction", "EHLO", 1),
    ("inside the SMTP transaction", "RCPT", 1),  # delivery recorded as sending, not accepted
    ("after a message was accepted", "RCPT", 2),  # the first one recorded as sent
]


@pytest.mark.parametrize(("case", "command", "nth"), CRASHES, ids=[c[0] for c in CRASHES])
def test_a_killed_report_sends_each_copy_exactly_once(figures, report, case, command, nth):
    with SMTPServer() as smtp:
        code = kill_at(smtp, command, nth)
        before = dict(smtp.recorder.copies())
        rerun = start_report(smtp)
        out, err = rerun.communicate(timeout=60)
        copies = smtp.recorder.copies()
    killed = 128 + signal.SIGKILL if code == -signal.SIGKILL else code
    lost = sum(1 for r in TO if copies[r] == 0)
    doubled = sum(max(copies[r] - 1, 0) for r in TO)
    running = JobRun.objects.filter(job="send_daily_report", status="running").count()
    report.add(f"report mail: SIGKILL {case}", killed, {137}, lost, doubled, running)
    assert killed == 137
    assert rerun.returncode == 0, err
    assert copies == {r: 1 for r in TO}, (before, copies)
    assert out.endswith(
        f"{DAY}: sent {3 - sum(before.values())}, already sent {sum(before.values())}\n"
    )
    assert set(ReportDelivery.objects.values_list("state", flat=True)) == {"sent"}
    assert running == 0


def test_the_documented_window_gives_a_second_copy_with_the_same_message_id(figures):
    """Killed after the server has the whole message but before its 250 reply reaches the
    job (the window the README names), the rerun sends again: two copies, one Message-ID."""
    with SMTPServer() as smtp:
        kill_at(smtp, "DATA", 1)
        rerun = start_report(smtp)
        rerun.communicate(timeout=60)
        copies = smtp.recorder.copies()
        ids = [
            message_id for recipients, message_id in smtp.recorder.accepted if recipients == [TO[0]]
        ]
    assert copies[TO[0]] == 2 and copies[TO[1]] == copies[TO[2]] == 1
    assert len(ids) == 2 and ids[0] == ids[1]
