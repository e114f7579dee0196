"""Run a job that checks for stops (upper_items), then work without ever checking: a stop
signal after the nested run must still stop this one at once."""

import time

from django.core.management import call_command

from batch_jobs import JobCommand


class Command(JobCommand):
    help = "Run upper_items, then stay busy for a minute without checking for stops."

    class Job:
        lock = False

    def handle(self, *args, **options):
        call_command("upper_items")
        self.stdout.write("busy")
        self.stdout.flush()
        time.sleep(60)  # never checks: the first signal must stop it at once
