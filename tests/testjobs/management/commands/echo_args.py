"""Print each argument on its own line, exactly as received."""

import json

from batch_jobs import JobCommand


class Command(JobCommand):
    help = "Print the arguments received, one JSON string per line."

    class Job:
        lock = False

    def add_arguments(self, parser):
        parser.add_argument("words", nargs="*")

    def handle(self, *args, **options):
        for word in options["words"]:
            self.stdout.write(json.dumps(word))
