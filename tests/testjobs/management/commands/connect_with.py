"""Fail naming a secret it was given as an option whose name does not say so."""

from django.core.management.base import CommandError

from batch_jobs import ExitCode, JobCommand, Secret


class Command(JobCommand):
    help = "Fail with 65 naming --dsn, a secret by its type (batch_jobs.Secret)."

    class Job:
        lock = False

    def add_arguments(self, parser):
        parser.add_argument("--dsn", type=Secret, required=True, help="Where to read from.")
        parser.add_argument("--label", default="", help="Shown as it is.")

    def handle(self, *args, **options):
        self.log_event("trying", "trying %s", options["dsn"], dsn=options["dsn"])
        raise CommandError(
            f"cannot read {options['label']} from {options['dsn']}",
            returncode=ExitCode.DATA_ERROR,
        )
