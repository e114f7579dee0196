"""The measured operations, one per variant, each run in a fresh process by ``bench.run``.

    python -m bench.variants SUITE VARIANT [ARG]

prints ``{"seconds": ..., "detail": ...}``; the driver adds the peak RSS of the process.
The textbook variants are written the way the tutorials write them, on purpose.
``BENCH_DRIVER=psycopg2`` runs a variant through psycopg 2. On MariaDB (``DATABASE_URL``
``mysql://``) the variants run in the product image, and print their own peak RSS too.
"""

import datetime
import json
import os
import resource
import sys
import time
from io import StringIO

import django

if os.environ.get("BENCH_DRIVER") == "psycopg2":
    # Django's PostgreSQL backend uses psycopg 3 whenever it imports, and psycopg 2 only when
    # it does not: make that import fail before Django loads, as in a project without it.
    sys.modules["psycopg"] = None

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402

from app.store.models import Customer, DailyStat, Order  # noqa: E402

FIRST_DAY = datetime.date(2025, 1, 1)
DAYS = 365


def sql(statement):
    with connection.cursor() as cursor:
        cursor.execute(statement)
        return cursor.rowcount


# -- normalize_emails ----------------------------------------------------------------------


def normalize_floor():
    if connection.vendor == "mysql":  # TRIM strips spaces, all the seeded data has
        return sql("UPDATE store_customer SET email = LOWER(TRIM(email))")
    return sql("UPDATE store_customer SET email = lower(btrim(email))")


def normalize_floor_join():
    """MariaDB and MySQL: the write alone, one ``UPDATE ... JOIN`` from a table the driver
    prepared (bench_new: the changed rows' new values), what update_rows' batches add up to."""
    return sql(
        "UPDATE store_customer AS t JOIN bench_new AS v ON t.id = v.id SET t.email = v.email"
    )


def normalize_textbook():
    """The seed tutorial's data migration: iterator() and save() per row, one transaction."""
    changed = 0
    with transaction.atomic():
        for user in Customer.objects.exclude(email__exact="").iterator(chunk_size=1000):
            normalized = user.email.lower().strip()
            if user.email == normalized:
                continue
            user.email = normalized
            user.save(update_fields=["email"])
            changed += 1
    return changed


def normalize_bulk_update():
    """Keyset batches of 5,000 written with Django's bulk_update."""
    changed, last = 0, 0
    while True:
        with transaction.atomic():
            batch = list(Customer.objects.filter(pk__gt=last).order_by("pk")[:5000])
            if not batch:
                return changed
            dirty = []
            for customer in batch:
                normalized = customer.email.lower().strip()
                if normalized != customer.email:
                    customer.email = normalized
                    dirty.append(customer)
            Customer.objects.bulk_update(dirty, ["email"])
            changed += len(dirty)
            last = batch[-1].pk


def normalize_with(strategy):
    def run(*args):
        out = StringIO()
        call_command("normalize_emails", *args, strategy=strategy, stdout=out)
        return out.getvalue().strip()

    return run


# -- daily_stats ---------------------------------------------------------------------------


def daily_floor():
    return sql(
        "INSERT INTO store_dailystat (date, order_count, total_amount) "
        "SELECT (created_at AT TIME ZONE 'UTC')::date, count(*), sum(amount) FROM store_order "
        "GROUP BY 1 ON CONFLICT (date) DO UPDATE SET order_count = EXCLUDED.order_count, "
        "total_amount = EXCLUDED.total_amount"
    )


def daily_update_or_create_loop():
    """The seed tutorial's stats job, once per day: created_at__date=day scans the table."""
    created = 0
    for n in range(DAYS):
        target = FIRST_DAY + datetime.timedelta(days=n)
        agg = Order.objects.filter(created_at__date=target).aggregate(
            count=Count("id"), total=Sum("amount")
        )
        _, was_created = DailyStat.objects.update_or_create(
            date=target,
            defaults={"order_count": agg["count"] or 0, "total_amount": agg["total"] or 0},
        )
        created += was_created
    return f"{created} created"


def daily_bulk_upsert():
    out = StringIO()
    last = FIRST_DAY + datetime.timedelta(days=DAYS - 1)
    call_command("compute_daily_stats", since=FIRST_DAY, until=last, stdout=out)
    return out.getvalue().strip()


VARIANTS = {
    ("normalize_emails", "floor"): normalize_floor,
    ("normalize_emails", "floor_join"): normalize_floor_join,
    ("normalize_emails", "textbook"): normalize_textbook,
    ("normalize_emails", "bulk_update"): normalize_bulk_update,
    ("normalize_emails", "python_path"): normalize_with("python"),
    ("normalize_emails", "set_path"): normalize_with("set"),
    ("daily_stats", "floor"): daily_floor,
    ("daily_stats", "update_or_create_loop"): daily_update_or_create_loop,
    ("daily_stats", "bulk_upsert"): daily_bulk_upsert,
}


def main(suite, variant, *args):
    """Run one variant; ``args`` go to the job's command line (python_path only)."""
    operation = VARIANTS[(suite, variant)]
    started = time.perf_counter()
    detail = operation(*args)
    seconds = time.perf_counter() - started
    if os.environ.get("BENCH_DRIVER"):
        detail = f"{detail} (through {connection.Database.__name__})"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "detail": str(detail), "rss_mb": rss}))


if __name__ == "__main__":
    main(*sys.argv[1:])
