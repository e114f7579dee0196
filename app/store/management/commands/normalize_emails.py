"""Lower-case and strip customers' e-mail addresses: a resumable data migration."""

from django.db import transaction
from django.db.models.functions import Lower, Trim

from app.store.models import Customer
from batch_jobs import JobCommand, update_rows


class Command(JobCommand):
    help = "Lower-case and strip customers' e-mail addresses, in resumable batches."

    class Job:
        batch_size = 5000

    def add_arguments(self, parser):
        parser.add_argument(
            "--strategy",
            choices=["python", "set", "iterator"],
            default="python",
            help="python (default): new values computed per row, one UPDATE ... FROM (VALUES) "
            "per batch. set: one set-based UPDATE per key range, done by PostgreSQL. "
            "iterator: the textbook form, iterator(chunk_size=--batch-size) and save() per "
            "row in one transaction; it streams, but cannot resume and is slow.",
        )

    def handle(self, *args, **options):
        customers = Customer.objects.all()
        if options["strategy"] == "iterator":
            self.normalize_with_iterator(customers, options["batch_size"])
        elif options["strategy"] == "set":
            self.run_batches(customers, self.normalize_in_sql)
        else:
            self.run_batches(customers, self.normalize_in_python, fields=["email"])
        mode = "dry" if self.dry_run else "commit"
        walked = ""
        if self.walk_totals and self.walk_totals != self.counters:  # resumed: the whole walk
            w = self.walk_totals
            walked = f"; the walk: checked {w['checked']} / changed {w['changed']}"
        self.stdout.write(
            self.style.SUCCESS(
                f"checked {self.counters['checked']} / changed {self.counters['changed']} "
                f"({mode}){walked}"
            )
        )

    def normalize_in_python(self, batch):
        changed = [
            (pk, clean) for pk, email in batch.rows if (clean := email.strip().lower()) != email
        ]
        if not self.dry_run:
            update_rows(Customer, ["email"], changed)
        self.counters["checked"] += len(batch)
        self.counters["changed"] += len(changed)

    def normalize_in_sql(self, batch):
        clean = Lower(Trim("email"))
        stale = batch.queryset.exclude(email=clean)
        changed = stale.count() if self.dry_run else stale.update(email=clean)
        self.counters["checked"] += len(batch)
        self.counters["changed"] += changed

    def normalize_with_iterator(self, customers, chunk_size):
        # The seed tutorial's form, kept as a documented strategy: on PostgreSQL iterator()
        # reads through a server-side cursor, one fetch of chunk_size rows at a time, so
        # memory stays flat. It needs the transaction around it for that cursor (and behind a
        # transaction-mode PgBouncer, DISABLE_SERVER_SIDE_CURSORS, which loses the streaming).
        with transaction.atomic():
            for customer in customers.only("pk", "email").iterator(chunk_size=chunk_size):
                self.counters["checked"] += 1
                clean = customer.email.strip().lower()
                if clean == customer.email:
                    continue
                self.counters["changed"] += 1
                if not self.dry_run:
                    customer.email = clean
                    customer.save(update_fields=["email"])
