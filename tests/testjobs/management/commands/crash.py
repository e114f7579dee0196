"""Raise an unexpected exception (a bug)."""

from batch_jobs import JobCommand


class Command(JobCommand):
    help = "Raise an unexpected exception."

    def handle(self, *args, **options):
        raise RuntimeError("boom from the crash job")
