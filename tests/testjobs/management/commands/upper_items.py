"""Upper-case item names in resumable batches: the batch walk on the test jobs' own table."""

from django.db.models.functions import Upper

from batch_jobs import JobCommand, update_rows
from tests.testjobs.models import Item


class Command(JobCommand):
    help = "Upper-case every item's name, in resumable batches."

    class Job:
        batch_size = 100

    def add_arguments(self, parser):
        parser.add_argument("--strategy", choices=["python", "set"], default="python")

    def handle(self, *args, **options):
        items = Item.objects.all()
        if options["strategy"] == "set":
            self.run_batches(items, self.upper_in_sql)
        else:
            self.run_batches(items, self.upper_in_python, fields=["name"])
        self.stdout.write(
            f"checked {self.counters['checked']} / changed {self.counters['changed']}"
        )

    def upper_in_python(self, batch):
        changed = [(pk, name.upper()) for pk, name in batch.rows if name.upper() != name]
        if not self.dry_run:
            update_rows(Item, ["name"], changed)
        self.counters["checked"] += len(batch)
        self.counters["changed"] += len(changed)

    def upper_in_sql(self, batch):
        stale = batch.queryset.exclude(name=Upper("name"))
        changed = stale.count() if self.dry_run else stale.update(name=Upper("name"))
        self.counters["checked"] += len(batch)
        self.counters["changed"] += changed
