"""Delete expired auth tokens: the canonical example of a job."""

from datetime import timedelta

from django.utils import timezone

from app.store.models import AuthToken
from batch_jobs import JobCommand


class Command(JobCommand):
    help = "Delete expired auth tokens."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=30,
            help="Treat tokens older than this many days as expired (default 30).",
        )

    def handle(self, *args, **options):
        cutoff = timezone.now() - timedelta(days=options["days"])
        expired = AuthToken.objects.filter(created_at__lt=cutoff)
        if self.dry_run:
            count = expired.count()
            self.counters["candidates"] = count
            self.stdout.write(self.style.NOTICE(f"[dry-run] {count} candidates for deletion"))
            return
        deleted, _ = expired.delete()
        self.counters["deleted"] = deleted
        self.stdout.write(
            self.style.SUCCESS(f"Deleted {deleted} tokens (cutoff={cutoff:%Y-%m-%d})")
        )
