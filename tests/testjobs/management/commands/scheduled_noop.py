"""A job with a schedule and nothing to do: what the jobctl tests render."""

from jobs import JobCommand


class Command(JobCommand):
    help = "Do nothing, every night at 02:30 UTC."
    schedule = "30 2 * * *"
    max_runtime = 3600

    def handle(self, *args, **options):
        self.stdout.write("nothing to do")
