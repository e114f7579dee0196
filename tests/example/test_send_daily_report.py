"""send_daily_report in-process (Django's locmem outbox) and against a real SMTP server."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail

from app.store.models import DailyStat, ReportDelivery
from batch_jobs.models import JobRun
from batch_jobs.testing import run_job
from tests.support.smtp import SMTPServer

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

DAY = datetime.date(2026, 11, 22)
TO = ["ops@example.com", "ceo@example.com"]


@pytest.fixture
def figures():
    DailyStat.objects.create(date=DAY, order_count=42, total_amount=Decimal("1234.50"))


def run_report(*args):
    return run_job("send_daily_report", "--date", DAY.isoformat(), *args)


def report(*args):
    result = run_report(*args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def to(*recipients):
    return [word for r in recipients for word in ("--to", r)]


def test_a_dry_run_shows_what_would_be_sent_and_sends_nothing(figures):
    out = report("--dry-run", *to(*TO))
    assert "[dry-run] to ops@example.com: Orders on 2026-11-22: 42" in out
    assert "[dry-run] to ceo@example.com: Orders on 2026-11-22: 42" in out
    assert "Total amount: 1234.50" in out
    assert mail.outbox == []
    assert not ReportDelivery.objects.exists()


def test_each_recipient_gets_one_message_and_a_rerun_sends_none(figures):
    assert report(*to(*TO)).endswith("2026-11-22: sent 2, already sent 0\n")
    assert sorted(m.to[0] for m in mail.outbox) == sorted(TO)
    assert mail.outbox[0].subject == "Orders on 2026-11-22: 42"
    assert "Total amount: 1234.50" in mail.outbox[0].body
    ids = {m.extra_headers["Message-ID"] for m in mail.outbox}
    assert len(ids) == 2 and all(i.startswith("<daily-report.20261122.") for i in ids)
    assert report(*to(*TO)).endswith("sent 0, already sent 2\n")
    assert len(mail.outbox) == 2
    record = JobRun.objects.filter(job="send_daily_report").latest("started_at")
    assert record.counters == {"already_sent": 2}


def test_a_new_recipient_gets_the_report_the_others_do_not_again(figures):
    report(*to("ops@example.com"))
    report(*to("ops@example.com", "new@example.com"))
    assert [m.to[0] for m in mail.outbox] == ["ops@example.com", "new@example.com"]


def test_no_figures_for_the_day_exits_65():
    result = run_report(*to(*TO))
    assert result.exit_code == 65
    assert str(result.exception) == (
        "no figures for 2026-11-22: run compute_daily_stats --date 2026-11-22 first"
    )
    assert mail.outbox == []


def test_no_recipients_means_nothing_to_send(figures, settings):
    settings.DAILY_REPORT_TO = []
    assert report() == "No recipients (DAILY_REPORT_TO or --to): nothing to send.\n"


def test_through_a_real_smtp_server(figures, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with SMTPServer() as smtp:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        report(*to(*TO))
        report(*to(*TO))
    assert smtp.recorder.copies() == {r: 1 for r in TO}


def test_a_refused_recipient_exits_65(figures, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with SMTPServer() as smtp:
        smtp.recorder.refuse.add("ceo@example.com")
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        result = run_report(*to(*TO))
    assert result.exit_code == 65
    assert str(result.exception) == (
        "the mail server refused ceo@example.com (550 5.1.1 no such user)"
    )
    assert smtp.recorder.copies() == {"ops@example.com": 1}
    assert ReportDelivery.objects.get(recipient="ops@example.com").state == "sent"
    assert not ReportDelivery.objects.filter(recipient="ceo@example.com").exists()  # refused


def test_an_unreachable_server_exits_75(figures, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    result = run_report(*to(*TO))
    assert result.exit_code == 75
    assert str(result.exception) == (
        "sending the report failed, safe to retry: [Errno 111] Connection refused"
    )
