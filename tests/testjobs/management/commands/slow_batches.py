"""Insert items in batches, one transaction each, sleeping inside every batch."""

import time

from batch_jobs import JobCommand
from tests.testjobs.models import Item


class Command(JobCommand):
    help = "Insert --batches batches of --size items, sleeping --sleep seconds in each."

    def add_arguments(self, parser):
        parser.add_argument("--batches", type=int, default=10)
        parser.add_argument("--size", type=int, default=5)
        parser.add_argument("--sleep", type=float, default=0.5)
        parser.add_argument("--tag", default="slow")

    def handle(self, *args, **options):
        progress = self.progress(total=options["batches"] * options["size"])
        for batch in range(options["batches"]):
            self.check_stop()
            with self.atomic():
                Item.objects.bulk_create(
                    Item(name=f"{options['tag']}-{batch}-{i}", batch=f"b{batch}")
                    for i in range(options["size"])
                )
                self.stdout.write(f"batch {batch} written", ending="\n")
                self.stdout.flush()
                time.sleep(options["sleep"])
            self.counters["batches"] += 1
            self.counters["rows"] += options["size"]
            progress.advance(options["size"])
        progress.close()
        self.stdout.write(self.style.SUCCESS(f"wrote {self.counters['rows']} rows"))
