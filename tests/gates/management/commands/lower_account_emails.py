"""The backfill a migration gate waits for: ``email_lower`` from ``email``, in batches."""

from django.db.models.functions import Lower

from batch_jobs import JobCommand
from tests.gates.models import Account


class Command(JobCommand):
    help = "Fill accounts' email_lower, in resumable batches."

    class Job:
        batch_size = 100

    def handle(self, *args, **options):
        self.run_batches(Account.objects.all(), self.fill)

    def fill(self, batch):
        stale = batch.queryset.filter(email_lower__isnull=True)
        changed = stale.count() if self.dry_run else stale.update(email_lower=Lower("email"))
        self.counters["checked"] += len(batch)
        self.counters["changed"] += changed
