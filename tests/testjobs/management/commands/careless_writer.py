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
        parser.add_argument(
            "--other-alias", action="store_true", help="In the walk, write through job_control."
        )

    def handle(self, *args, **options):
        if options["reads_flag"]:
            self.stdout.write(f"dry run: {self.dry_run}")
        if options["after_walk"]:
            self.alias = "job_control" if options["other_alias"] else "default"
            self.run_batches(Item.objects.all(), self.touch, fields=["name"])
        if options["raw"]:
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("/* a comment */ (UPDATE testjobs_item SET name = 'renamed')")
        else:
            Item.objects.update(name="renamed")

    def touch(self, batch):
        keys = [pk for pk, _ in batch.rows]
        Item.objects.using(self.alias).filter(pk__in=keys).update(batch="walked")
