"""The backfill the gate waits on: each gadget's slug from its name, in resumable batches. A
gadget without a name is bad input: the run fails with exit 65."""

from django.core.management.base import CommandError
from django.db.models.functions import Lower

from batch_jobs import ExitCode, JobCommand
from tests.gated.models import Gadget


class Command(JobCommand):
    help = "Fill each gadget's slug from its name, in resumable batches."

    class Job:
        batch_size = 10

    def handle(self, *args, **options):
        self.run_batches(Gadget.objects.all(), self.fill)

    def fill(self, batch):
        missing = batch.queryset.filter(slug__isnull=True)
        if missing.filter(name="").exists():
            raise CommandError("a gadget has no name", returncode=ExitCode.DATA_ERROR)
        changed = missing.count() if self.dry_run else missing.update(slug=Lower("name"))
        self.counters["filled"] += changed
