"""A converted command whose handle() writes without looking at --dry-run (``--reads-flag``:
after reading ``self.dry_run``; ``--after-walk``: after a dry-run-safe walk)."""

from batch_jobs import JobCommand
from tests.testjobs.models import Item


class Command(JobCommand):
    help = "Rename every item, whatever --dry-run says."

    def add_arguments(self, parser):
        parser.add_argument("--reads-flag", action="store_true")
        parser.add_argument("--after-walk", action="store_true")
        parser.add_argument("--raw", action="store_true", help="Write with raw SQL.")

    def handle(self, *args, **options):
        if options["reads_flag"]:
            self.stdout.write(f"dry run: {self.dry_run}")
        if options["after_walk"]:
            self.run_batches(Item.objects.all(), self.touch, fields=["name"])
        if options["raw"]:
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("/* a comment */ (UPDATE testjobs_item SET name = 'renamed')")
        else:
            Item.objects.update(name="renamed")

    def touch(self, batch):
        Item.objects.filter(pk__in=[pk for pk, _ in batch.rows]).update(batch="walked")
