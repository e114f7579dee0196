"""Bad job input is 65 (2 for arguments) with nothing half-written (issue 19): the example
jobs `import_orders` and `send_daily_report` as `job` runs them, on the test database."""

import datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.store.models import DailyStat, Order, ReportDelivery
from batch_jobs.models import JobRun
from tests.support.boundary import assert_contract, last_line
from tests.support.reliability import FULL
from tests.support.scripts import run
from tests.support.sessions import database_url
from tests.support.smtp import SMTPServer

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

HEADER = b"external_id,amount,created_at\n"
GOOD = b"A-1,10.50,2026-11-01T10:00:00+00:00\n"


def job(*words, **env):
    return run("job", *words, database_url=database_url(), env=env)


def import_file(tmp_path, content):
    path = tmp_path / "orders.csv"
    path.write_bytes(content)
    return job("import_orders", str(path))


def assert_65_nothing_imported(result, *fragments):
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={65})
    line = last_line(result.stderr)
    for fragment in fragments:
        assert fragment in line, line
    assert Order.objects.count() == 0
    record = JobRun.objects.get(job="import_orders")
    assert (record.status, record.exit_code) == ("failed", 65)


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (HEADER + GOOD + b"B-\x002,1.00,2026-11-01T10:00:00+00:00\n", ["line 3: external_id"]),
        (HEADER + GOOD + b"\x00,1.00,2026-11-01T10:00:00+00:00\n", ["line 3: external_id"]),
        (HEADER + GOOD + b"C-1,1.\x0000,2026-11-01T10:00:00+00:00\n", ["line 3: amount"]),
        (HEADER + GOOD + b"B-\x1b[31m,1.00,2026-11-01T10:00:00+00:00\n", ["line 3: external_id"]),
    ],
    ids=["NUL in an id", "NUL as the id", "NUL in an amount", "an escape in an id"],
)
def test_a_nul_byte_in_an_import_orders_csv_is_65_with_its_line(tmp_path, content, fragments):
    assert_65_nothing_imported(import_file(tmp_path, content), *fragments)


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (HEADER + GOOD + b"B-2,\xff1.00,2026-11-01T10:00:00+00:00\n", ["line 3 is not UTF-8"]),
        (b"\xef\xbb\xbf" + HEADER + GOOD + b"\xc3\n", ["line 3 is not UTF-8"]),
        (HEADER + GOOD + b"x" * (1024 * 1024 + 1), ["line 3 is longer than 1048576 bytes"]),
        (HEADER + b'"' + b"x" * 200_000 + b'",1.00,2026\n', ["line 2 is not CSV", "field"]),
    ],
    ids=["not UTF-8", "a cut character", "an endless line", "a huge field"],
)
def test_undecodable_input_is_65_with_its_line(tmp_path, content, fragments):
    assert_65_nothing_imported(import_file(tmp_path, content), *fragments)


def test_a_byte_order_mark_is_no_error(tmp_path):
    result = import_file(tmp_path, b"\xef\xbb\xbf" + HEADER + GOOD)
    assert result.exit_code == 0, result.stderr
    assert Order.objects.count() == 1


ROW = st.lists(
    st.one_of(st.binary(max_size=40), st.sampled_from([b"A-1", b"1.00", b"\x00", b"\r", b'"'])),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=150 if FULL else 5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(ROW, max_size=4))
def test_any_orders_file_is_0_or_65_and_imports_whole_or_nothing(tmp_path, rows, report):
    Order.objects.all().delete()
    body = b"".join(b",".join(fields) + b"\n" for fields in rows)
    result = import_file(tmp_path, HEADER + GOOD + body)
    imported = Order.objects.count()
    half = int(result.exit_code != 0 and imported != 0)
    report.add("import_orders files (hypothesis)", result.exit_code, {0, 65}, lost=half)
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={0, 65})
    if result.exit_code == 0:
        assert imported >= 1  # the good line at least
        assert not Order.objects.filter(external_id__regex=r"[\x00-\x1f\x7f]").exists()
    else:
        assert imported == 0


# -- send_daily_report --to -----------------------------------------------------------------

DAY = "2026-11-22"


@pytest.fixture
def figures():
    DailyStat.objects.create(
        date=datetime.date.fromisoformat(DAY), order_count=7, total_amount=Decimal("70.00")
    )


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("not-an-email<script>", "'not-an-email<script>'"),
        ("ops@example.com\r\nBcc: all@example.com", "must be an e-mail address"),
        ("ops@example.com\n", "must be an e-mail address"),
        ("a" * 250 + "@example.com", "254 characters at most"),
        ("Ops <ops@example.com>", "must be an e-mail address"),
        ("", "must be an e-mail address"),
    ],
    ids=["not an address", "CRLF", "a newline", "too long", "a display name", "empty"],
)
def test_send_daily_report_to_not_an_email_is_2_and_nothing_is_sent(figures, address, shown):
    with SMTPServer() as smtp:
        result = job("send_daily_report", "--date", DAY, "--to", address, EMAIL_URL=smtp.url)
        accepted = list(smtp.recorder.accepted)
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={2})
    line = last_line(result.stderr)
    assert "argument --to: must be" in line and shown in line, line
    assert "\r" not in line and "Bcc" not in line.split("not", 1)[0]
    assert accepted == []
    assert not ReportDelivery.objects.exists()


def test_a_refused_recipient_leaves_no_sending_row_behind(figures):
    with SMTPServer() as smtp:
        smtp.recorder.refuse.add("ceo@example.com")
        words = ["--to", "ops@example.com", "--to", "ceo@example.com"]
        result = job("send_daily_report", "--date", DAY, *words, EMAIL_URL=smtp.url)
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={65})
    states = dict(ReportDelivery.objects.values_list("recipient", "state"))
    assert states == {"ops@example.com": "sent"}  # the refused one: no "sending" row


def test_an_unreachable_server_leaves_no_sending_row_behind(figures):
    result = job(
        "send_daily_report",
        "--date",
        DAY,
        "--to",
        "ops@example.com",
        EMAIL_URL="smtp://127.0.0.1:9",
    )
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={75})
    assert not ReportDelivery.objects.exists()
