"""Raise CommandError with the given return code (0 succeeds, 1 raises a bug)."""

from django.core.management.base import CommandError

from batch_jobs import JobCommand


class Command(JobCommand):
    help = "Fail with CommandError(returncode=CODE); 0 succeeds, 1 raises an unexpected error."

    def add_arguments(self, parser):
        parser.add_argument("code", type=int)
        parser.add_argument("--message", default="the test asked for it")

    def handle(self, *args, **options):
        self.counters["calls"] += 1
        if options["code"] == 0:
            self.stdout.write("ok")
        elif options["code"] == 1:
            raise RuntimeError(options["message"])
        else:
            raise CommandError(options["message"], returncode=options["code"])
