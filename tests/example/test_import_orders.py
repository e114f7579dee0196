"""import_orders: validates everything first, upserts by external id, idempotent."""

from decimal import Decimal

import pytest

from app.store.models import Order
from batch_jobs.testing import run_job

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

HEADER = "external_id,amount,created_at\n"
GOOD = [
    "A-1,10.50,2026-03-01T10:00:00+00:00",
    "A-2,0.99,2026-03-02T11:00:00+01:00",
    "A-3,1200,2026-03-03T12:00:00Z",
]


def csv_file(tmp_path, lines, name="orders.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def import_orders(*args):
    result = run_job("import_orders", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()[-1]


def test_import_then_reimport_is_idempotent(tmp_path):
    path = csv_file(tmp_path, GOOD)
    assert import_orders(path) == "3 rows: 3 created / 0 updated / 0 unchanged / 0 invalid"
    assert import_orders(path) == "3 rows: 0 created / 0 updated / 3 unchanged / 0 invalid"
    assert dict(Order.objects.values_list("external_id", "amount")) == {
        "A-1": Decimal("10.50"),
        "A-2": Decimal("0.99"),
        "A-3": Decimal("1200.00"),
    }


def test_changed_rows_are_updated(tmp_path):
    import_orders(csv_file(tmp_path, GOOD))
    changed = [GOOD[0].replace("10.50", "11.00"), *GOOD[1:]]
    assert import_orders(csv_file(tmp_path, changed, "v2.csv")) == (
        "3 rows: 0 created / 1 updated / 2 unchanged / 0 invalid"
    )
    assert Order.objects.get(external_id="A-1").amount == Decimal("11.00")


BAD = [
    ",5.00,2026-03-01T10:00:00Z",
    "B-2,abc,2026-03-01T10:00:00Z",
    "B-3,-1.00,2026-03-01T10:00:00Z",
    "B-4,1.001,2026-03-01T10:00:00Z",
    "B-5,1.00,yesterday",
    "B-6,1.00,2026-03-01T10:00:00",
]


def test_bad_rows_exit_65_naming_lines_and_nothing_is_written(tmp_path):
    path = csv_file(tmp_path, [GOOD[0], *BAD, GOOD[1]])
    result = run_job("import_orders", path)
    assert result.exit_code == 65
    message = str(result.exception)
    assert message.startswith(f"6 invalid rows in {path}, nothing imported: line 3: external_id")
    for line in (3, 4, 5, 6, 7):
        assert f"line {line}: " in message
    assert "(and 1 more)" in message
    assert "\n" not in message
    assert Order.objects.count() == 0


def test_skip_invalid_imports_the_valid_rows(tmp_path):
    path = csv_file(tmp_path, [GOOD[0], *BAD, GOOD[1]])
    assert import_orders(path, "--skip-invalid") == (
        "8 rows: 2 created / 0 updated / 0 unchanged / 6 invalid"
    )
    assert set(Order.objects.values_list("external_id", flat=True)) == {"A-1", "A-2"}


def test_dry_run_counts_and_writes_nothing(tmp_path):
    path = csv_file(tmp_path, GOOD)
    assert import_orders(path, "--dry-run") == (
        "3 rows: 3 created / 0 updated / 0 unchanged / 0 invalid (dry-run)"
    )
    assert Order.objects.count() == 0


def test_a_later_duplicate_wins(tmp_path):
    path = csv_file(tmp_path, [GOOD[0], GOOD[0].replace("10.50", "7.00")])
    import_orders(path, "--batch-size", "1")
    assert Order.objects.get(external_id="A-1").amount == Decimal("7.00")
    import_orders(path)
    assert Order.objects.get(external_id="A-1").amount == Decimal("7.00")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,amount\n1,2\n", "header lacks created_at, external_id"),
        (None, "cannot read"),
        (b"\xff\xfe\x00bad", "is not UTF-8"),
    ],
)
def test_unusable_files_exit_65(tmp_path, content, message):
    path = tmp_path / "in.csv"
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    result = run_job("import_orders", str(path))
    assert result.exit_code == 65
    assert message in str(result.exception)
