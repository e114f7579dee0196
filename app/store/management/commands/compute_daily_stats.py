"""Per-day order count and total into DailyStat: an idempotent aggregate."""

import argparse
import datetime
from decimal import Decimal

from django.core.management.base import CommandError
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from app.store.models import DailyStat, Order
from batch_jobs import ExitCode, JobCommand


def iso_date(text):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def day_bounds(first, last):
    """Aware datetimes [start of first, start of the day after last) in the project's zone.

    A half-open range on created_at lets PostgreSQL use its index; ``created_at__date=day``
    casts the column and scans the whole table once per day.
    """
    zone = timezone.get_current_timezone()
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, zone)
    return start, end


class Command(JobCommand):
    help = "Compute per-day order counts and totals into DailyStat (default: yesterday)."

    def add_arguments(self, parser):
        parser.add_argument("--date", type=iso_date, metavar="D", help="One day, YYYY-MM-DD.")
        parser.add_argument("--since", type=iso_date, metavar="D", help="First day of a range.")
        parser.add_argument("--until", type=iso_date, metavar="D", help="Last day (inclusive).")

    def handle(self, *args, **options):
        day, since, until = options["date"], options["since"], options["until"]
        if day and (since or until):
            raise CommandError(
                "give either --date or --since/--until, not both", returncode=ExitCode.USAGE
            )
        if bool(since) != bool(until):
            raise CommandError("--since and --until go together", returncode=ExitCode.USAGE)
        if since and since > until:
            raise CommandError(
                f"--since {since} is after --until {until}", returncode=ExitCode.USAGE
            )
        if since:
            self.compute_range(since, until)
        else:
            self.compute_day(day or timezone.localdate() - datetime.timedelta(days=1))
        c = self.counters
        self.stdout.write(
            self.style.SUCCESS(
                f"{c['days']} days: {c['created']} created / {c['updated']} updated / "
                f"{c['unchanged']} unchanged" + (" (dry-run)" if self.dry_run else "")
            )
        )

    def compute_day(self, day):
        """One day: an indexed range aggregate and ``update_or_create``, as the seed does."""
        start, end = day_bounds(day, day)
        agg = Order.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
            count=Count("id"), total=Sum("amount")
        )
        values = {"order_count": agg["count"], "total_amount": agg["total"] or Decimal("0.00")}
        self.count_changes({day: values})
        if not self.dry_run:
            DailyStat.objects.update_or_create(date=day, defaults=values)
        self.stdout.write(f"{day}: {values['order_count']} orders / {values['total_amount']}")

    def compute_range(self, since, until):
        """Many days: one grouped aggregate and one bulk upsert of the days that changed."""
        start, end = day_bounds(since, until)
        per_day = (
            Order.objects.filter(created_at__gte=start, created_at__lt=end)
            .annotate(day=TruncDate("created_at"))
            .values("day")
            .annotate(count=Count("id"), total=Sum("amount"))
        )
        fresh = {
            since + datetime.timedelta(days=n): {"order_count": 0, "total_amount": Decimal("0.00")}
            for n in range((until - since).days + 1)
        }
        for row in per_day:
            fresh[row["day"]] = {"order_count": row["count"], "total_amount": row["total"]}
        changed = self.count_changes(fresh)
        if not self.dry_run and changed:
            # One upsert; bulk_create runs all its batches in one transaction.
            DailyStat.objects.bulk_create(
                [DailyStat(date=d, **fresh[d]) for d in changed],
                update_conflicts=True,
                unique_fields=["date"],
                update_fields=["order_count", "total_amount"],
                batch_size=1000,
            )

    def count_changes(self, fresh):
        """Count created/updated/unchanged days against what is stored; return the changed."""
        stored = {
            s.date: {"order_count": s.order_count, "total_amount": s.total_amount}
            for s in DailyStat.objects.filter(date__in=list(fresh))
        }
        changed = []
        for day, values in fresh.items():
            before = stored.get(day)
            outcome = (
                "created" if before is None else "unchanged" if before == values else "updated"
            )
            self.counters[outcome] += 1
            if outcome != "unchanged":
                changed.append(day)
        self.counters["days"] += len(fresh)
        return changed
