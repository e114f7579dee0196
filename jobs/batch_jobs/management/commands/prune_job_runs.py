"""Delete old run records so that the table stays bounded, and uploads past their retention."""

from datetime import timedelta

from django.core.management.base import CommandError
from django.utils import timezone

from batch_jobs import JobCommand
from batch_jobs.models import JobRun
from batch_jobs.operations import control, uploads


class Command(JobCommand):
    help = (
        "Delete run records that finished more than --older-than days ago, and uploads older "
        "than JOB_UPLOAD_RETENTION days."
    )

    class Job:
        schedule = "0 4 * * 0"
        schedule_args = ("--older-than", "90")
        max_runtime = 600

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            required=True,
            metavar="DAYS",
            help="Delete records of runs that finished more than this many days ago, and drop "
            "the secret values of start requests no worker claimed in that time.",
        )

    def handle(self, *args, **options):
        days = options["older_than"]
        if days < 1:
            raise CommandError("--older-than must be at least 1 day", returncode=2)
        cutoff = timezone.now() - timedelta(days=days)
        # Never a running record: it is either live or waits to be marked abandoned.
        records = JobRun.objects.using(self.control_database)  # where this run writes its own
        old = records.filter(finished_at__lt=cutoff).exclude(status=JobRun.Status.RUNNING)
        if self.dry_run:
            self.counters["candidates"] = count = old.count()
            self.counters["upload_candidates"] = files = uploads.prune(dry_run=True)
            self.counters["secret_candidates"] = kept = control.drop_secrets(cutoff, dry_run=True)
            self.stdout.write(
                self.style.NOTICE(
                    f"[dry-run] {count} run records and {files} uploads to delete, "
                    f"{kept} unclaimed starts' secrets to drop"
                )
            )
            return
        self.counters["uploads_deleted"] = uploads.prune()
        # A start no worker claimed in all that time keeps no secret for ever.
        self.counters["secrets_dropped"] = control.drop_secrets(cutoff)
        self.counters["deleted"], _ = old.delete()
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {self.counters['deleted']} run records (cutoff={cutoff:%Y-%m-%d}) "
                f"and {self.counters['uploads_deleted']} expired uploads; dropped the secrets "
                f"of {self.counters['secrets_dropped']} start(s) no worker claimed"
            )
        )
