"""A job with a schedule and nothing to do: what the jobctl and Sentry tests use."""

from django.core.management.base import CommandError

from batch_jobs import JobCommand


class Command(JobCommand):
    help = "Do nothing, every night at 02:30 UTC."

    class Job:
        schedule = "30 2 * * *"
        max_runtime = 3600

    def add_arguments(self, parser):
        parser.add_argument("--exit", type=int, default=0, help="Exit with this code instead.")

    def handle(self, *args, **options):
        if options["exit"] == 1:
            raise RuntimeError("a bug in scheduled_noop")
        if options["exit"]:
            raise CommandError(f"asked to exit {options['exit']}", returncode=options["exit"])
        self.stdout.write("nothing to do")
