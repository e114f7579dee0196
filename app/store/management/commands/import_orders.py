"""Import orders from a CSV file: validated first, then upserted by external id."""

import csv
import datetime
import itertools
import unicodedata
from decimal import Decimal, InvalidOperation

from django.core.management.base import CommandError
from django.db import connections, router, transaction
from django.utils import timezone

from app.store.models import Order
from batch_jobs import ExitCode, JobCommand, StoredFile, positive_int

COLUMNS = ("external_id", "amount", "created_at")
# How many bad lines the error message names.
SHOWN_ERRORS = 5
# The longest line read, in bytes: a file that is not CSV (one endless line) is refused
# rather than read into memory whole.
MAX_LINE = 1024 * 1024


def parse_row(row):
    """The validated ``Order`` fields of one CSV row, or ``ValueError`` saying what is wrong."""
    external_id = (row.get("external_id") or "").strip()
    if not external_id:
        raise ValueError("external_id is empty")
    if len(external_id) > 64:
        raise ValueError("external_id is longer than 64 characters")
    if any(unicodedata.category(c) == "Cc" for c in external_id):  # NUL, escapes, ...
        raise ValueError(f"external_id {external_id!r} holds a control character")
    try:
        amount = Decimal(row.get("amount") or "")
    except InvalidOperation:
        raise ValueError(f"amount {row.get('amount')!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"amount {row.get('amount')!r} is not a non-negative sum of money")
    if amount >= Decimal("1e10"):
        raise ValueError(f"amount {row.get('amount')!r} is too large")
    try:
        created_at = datetime.datetime.fromisoformat(row.get("created_at") or "")
    except ValueError:
        raise ValueError(f"created_at {row.get('created_at')!r} is not an ISO 8601 time") from None
    if timezone.is_naive(created_at):
        raise ValueError(f"created_at {row.get('created_at')!r} has no time zone")
    return {"external_id": external_id, "amount": amount, "created_at": created_at}


class Command(JobCommand):
    help = "Import orders from a CSV file (external_id,amount,created_at), idempotently."

    def add_arguments(self, parser):
        parser.add_argument(
            "path",
            type=StoredFile,
            help="CSV file with a header line: " + ",".join(COLUMNS) + " (a local path, or "
            "storage:NAME for a file in the project's storage, such as a console upload)",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=2000,
            metavar="N",
            help="Rows per upsert statement (default 2000); the import is one transaction.",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid rows and report the invalid ones, instead of exiting 65.",
        )

    def handle(self, *args, **options):
        invalid, first = self.validate(options["path"])
        shown = "; ".join(f"line {n}: {reason}" for n, reason in first)
        more = f" (and {invalid - len(first)} more)" if invalid > len(first) else ""
        if invalid and not options["skip_invalid"]:
            raise CommandError(
                f"{invalid} invalid rows in {options['path']}, nothing imported: {shown}{more}",
                returncode=ExitCode.DATA_ERROR,
            )
        if invalid:
            self.stderr.write(f"skipping {invalid} invalid rows: {shown}{more}")
        self.counters["invalid"] = invalid
        # One transaction: an import applies whole or not at all, even when stopped midway.
        with transaction.atomic():
            rows = self.valid_rows(options["path"])
            while batch := list(itertools.islice(rows, options["batch_size"])):
                self.check_stop()
                self.upsert(batch)
        c = self.counters
        self.stdout.write(
            self.style.SUCCESS(
                f"{c['rows']} rows: {c['created']} created / {c['updated']} updated / "
                f"{c['unchanged']} unchanged / {c['invalid']} invalid"
                + (" (dry-run)" if self.dry_run else "")
            )
        )

    def read(self, path):
        """``(line number, row)`` pairs, streamed; bad bytes or CSV end the read with 65
        and the line number."""
        lines = None
        try:
            with path.open("rb") as f:
                lines = DecodedLines(f, path)
                reader = csv.DictReader(lines)
                missing = set(COLUMNS) - set(reader.fieldnames or ())
                if missing:
                    raise CommandError(
                        f"{path}: header lacks {', '.join(sorted(missing))}; expected "
                        + ",".join(COLUMNS),
                        returncode=ExitCode.DATA_ERROR,
                    )
                for row in reader:
                    yield reader.line_num, row
        except OSError as e:
            raise CommandError(
                f"cannot read {path}: {e.strerror}", returncode=ExitCode.DATA_ERROR
            ) from None
        except csv.Error as e:
            lines.fail(f"is not CSV: {e}")

    def validate(self, path):
        """How many rows are invalid, and ``(line, reason)`` of the first few."""
        invalid, first = 0, []
        for line, row in self.read(path):
            self.counters["rows"] += 1
            try:
                parse_row(row)
            except ValueError as e:
                invalid += 1
                if len(first) < SHOWN_ERRORS:
                    first.append((line, str(e)))
        return invalid, first

    def valid_rows(self, path):
        for _, row in self.read(path):
            try:
                yield parse_row(row)
            except ValueError:
                continue

    def upsert(self, rows):
        """Create new orders, update changed ones, leave equal ones alone; count each.

        A later row for the same external id wins, as it would across batches.
        """
        rows = list({row["external_id"]: row for row in rows}.values())
        stored = Order.objects.in_bulk([r["external_id"] for r in rows], field_name="external_id")
        writes = []
        for row in rows:
            before = stored.get(row["external_id"])
            if before is None:
                self.counters["created"] += 1
            elif (before.amount, before.created_at) == (row["amount"], row["created_at"]):
                self.counters["unchanged"] += 1
                continue
            else:
                self.counters["updated"] += 1
            writes.append(Order(**row))
        if self.dry_run or not writes:
            return
        # PostgreSQL and SQLite upsert on a conflict target; MariaDB and MySQL take none (ON
        # DUPLICATE KEY UPDATE: external_id is the table's only other unique key).
        features = connections[router.db_for_write(Order)].features
        target = ["external_id"] if features.supports_update_conflicts_with_target else None
        Order.objects.bulk_create(
            writes,
            update_conflicts=True,
            unique_fields=target,
            update_fields=["amount", "created_at"],
        )


class DecodedLines:
    """The lines of binary file ``f`` as text, each decoded strictly as UTF-8 (a byte-order
    mark allowed at the start), at most ``MAX_LINE`` bytes; ``CommandError`` (65) naming the
    line otherwise. ``number`` is the last line read, for errors found in it later."""

    def __init__(self, f, path):
        self.f, self.path, self.number = f, path, 0

    def __iter__(self):
        for raw in iter(lambda: self.f.readline(MAX_LINE + 1), b""):
            self.number += 1
            if len(raw) > MAX_LINE:
                self.fail(f"is longer than {MAX_LINE} bytes")
            try:
                yield raw.decode("utf-8-sig" if self.number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                self.fail(f"is not UTF-8 ({e.reason} at byte {e.start + 1})")

    def fail(self, what):
        raise CommandError(
            f"{self.path}, line {self.number} {what}", returncode=ExitCode.DATA_ERROR
        )
