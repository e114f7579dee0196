"""Deterministic demo data, fast: customers, orders and auth tokens."""

import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from app.store.models import AuthToken, Customer, Order
from batch_jobs import JobCommand

# Knuth's multiplicative hash: row i's values depend on (seed, i) alone, so a rerun (or a
# larger N) regenerates exactly the same rows without replaying a random stream.
_GOLDEN = 2654435761


def mix(seed, i, salt):
    return ((i + 1) * _GOLDEN ^ (seed * 40503 + salt * 7919)) % 2**32


class Command(JobCommand):
    help = "Create deterministic demo customers, orders and tokens (idempotent per --seed)."

    class Job:
        lock_args = ("seed",)

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=1000, help="Customers (default 1000).")
        parser.add_argument("--orders", type=int, default=10000, help="Orders (default 10000).")
        parser.add_argument("--tokens", type=int, default=1000, help="Auth tokens (default 1000).")
        parser.add_argument("--seed", type=int, default=1, help="Data set number (default 1).")
        parser.add_argument(
            "--days", type=int, default=365, help="Spread orders over this many days (365)."
        )

    def handle(self, *args, **options):
        seed, days = options["seed"], max(options["days"], 1)
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        plans = [
            (
                Customer,
                ["email", "name"],
                options["users"],
                lambda i: self.customer(seed, i),
                {"email__icontains": f"@seed{seed}.demo"},
            ),
            (
                Order,
                ["external_id", "amount", "created_at"],
                options["orders"],
                lambda i: self.order(seed, i, now, days),
                {"external_id__startswith": f"demo-{seed}-"},
            ),
            (
                AuthToken,
                ["value", "created_at"],
                options["tokens"],
                lambda i: self.token(seed, i, now),
                {"value__startswith": f"demo-{seed}-"},
            ),
        ]
        for model, fields, wanted, make, mine in plans:
            self.check_stop()
            have = model.objects.filter(**mine).count()
            todo = range(have, max(wanted, have))
            name = model._meta.verbose_name_plural
            self.counters[f"{model._meta.model_name}_existing"] = have
            if not self.dry_run and todo:
                with transaction.atomic():
                    self.insert(model, fields, (make(i) for i in todo))
            self.counters[f"{model._meta.model_name}_created"] = len(todo)
            self.stdout.write(f"{name}: {len(todo)} created, {have} already there")
        self.stdout.write(
            self.style.SUCCESS("Demo data ready" + (" (dry-run)" if self.dry_run else ""))
        )

    @staticmethod
    def customer(seed, i):
        email = f"user{i}@seed{seed}.demo"
        if i % 2:  # half of them need normalize_emails
            email = f"  User{i}@Seed{seed}.demo "
        return (email, f"Customer {i}")

    @staticmethod
    def order(seed, i, now, days):
        cents = 100 + mix(seed, i, 1) % 50_000
        age = datetime.timedelta(seconds=mix(seed, i, 2) % (days * 86400))
        return (f"demo-{seed}-{i}", Decimal(cents).scaleb(-2), now - age)

    @staticmethod
    def token(seed, i, now):
        age = datetime.timedelta(minutes=mix(seed, i, 3) % (60 * 24 * 60))  # up to 60 days
        return (f"demo-{seed}-{i}", now - age)

    def insert(self, model, fields, rows):
        """COPY on PostgreSQL (fast), batched bulk_create elsewhere."""
        if connection.vendor == "postgresql":
            qn = connection.ops.quote_name
            columns = ", ".join(qn(model._meta.get_field(f).column) for f in fields)
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(
                    f"COPY {qn(model._meta.db_table)} ({columns}) FROM STDIN"
                ) as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        batch = []
        for row in rows:
            batch.append(model(**dict(zip(fields, row, strict=True))))
            if len(batch) == 5000:
                model.objects.bulk_create(batch)
                batch = []
        model.objects.bulk_create(batch)
