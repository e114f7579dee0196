"""The nightly batch: several jobs in a row, each recorded as a run of its own."""

from django.core.management import call_command

from batch_jobs import JobCommand


class Command(JobCommand):
    help = (
        "Nightly batch: cleanup_tokens, compute_daily_stats, then send_daily_report; stops at "
        "the first failure."
    )

    class Job:
        schedule = "30 2 * * *"
        max_runtime = 3600

    #: (job, arguments) in order.
    steps = [("cleanup_tokens", ()), ("compute_daily_stats", ()), ("send_daily_report", ())]

    def handle(self, *args, **options):
        for name, arguments in self.steps:
            self.check_stop()
            # A failing step raises CommandError with its own exit code, which ends the batch
            # with that code; each step's run record names this run as its parent.
            call_command(
                name, *arguments, dry_run=self.dry_run, stdout=self.stdout, stderr=self.stderr
            )
            self.counters["steps"] += 1
        self.stdout.write(self.style.SUCCESS("Nightly batch complete"))
