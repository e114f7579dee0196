"""Fill ``Customer.joined_at`` for the customers from before it: deploy 2 of the
data-migrations guide, the backfill that migration store.0004 waits for."""

from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce, Now

from app.store.models import Customer, Order
from batch_jobs import JobCommand


class Command(JobCommand):
    help = (
        "Fill customers' joined_at from their first order (else now), in resumable batches: "
        "the backfill migration store.0004 waits for."
    )

    class Job:
        batch_size = 5000

    def handle(self, *args, **options):
        self.run_batches(Customer.objects.all(), self.fill)
        mode = "dry" if self.dry_run else "commit"
        self.stdout.write(
            f"checked {self.counters['checked']} / filled {self.counters['filled']} ({mode})"
        )

    def fill(self, batch):
        first_order = Order.objects.filter(customer=OuterRef("pk")).order_by("created_at")
        joined = Coalesce(Subquery(first_order.values("created_at")[:1]), Now())
        empty = batch.queryset.filter(joined_at__isnull=True)
        filled = empty.count() if self.dry_run else empty.update(joined_at=joined)
        self.counters["checked"] += len(batch)
        self.counters["filled"] += filled
