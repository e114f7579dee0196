from datetime import timedelta
from batch_jobs import JobCommand
from django.utils import timezone
from myapp.models import AuthToken
class Command(JobCommand):
    help = "Delete expired auth tokens."
    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=30,
            help="Treat tokens older than this many days as expired (default 30)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count only, don't delete",
        )
    def handle(self, *args, **options):
        days = options["days"]
        cutoff = timezone.now() - timedelta(days=days)
        qs = AuthToken.objects.filter(created_at__lt=cutoff)
        count = qs.count()
        if options["dry_run"]:
            self.stdout.write(
                self.style.NOTICE(f"[dry-run] {count} candidates for deletion")
            )
            return
        deleted, _ = qs.delete()
        self.stdout.write(
            self.style.SUCCESS(f"Deleted {deleted} tokens (cutoff={cutoff:%Y-%m-%d})")
        )
