"""Raise CommandError with the given return code."""

from django.core.management.base import CommandError

from jobs import JobCommand


class Command(JobCommand):
    help = "Fail with CommandError(returncode=CODE)."

    def add_arguments(self, parser):
        parser.add_argument("code", type=int)
        parser.add_argument("--message", default="the test asked for it")

    def handle(self, *args, **options):
        raise CommandError(options["message"], returncode=options["code"])
