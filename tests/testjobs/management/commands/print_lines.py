"""Print many lines: output capture's bounds (tests) and memory (the bench's ten million)."""

import resource
import time

from batch_jobs import JobCommand, Secret


class Command(JobCommand):
    help = "Print --lines numbered lines on stdout (and every --stderr-every-th on stderr)."

    class Job:
        lock = False

    def add_arguments(self, parser):
        parser.add_argument("--lines", type=int, default=10, help="How many lines to print.")
        parser.add_argument("--width", type=int, default=20, help="Characters of padding.")
        parser.add_argument("--stderr-every", type=int, default=0, help="0: none on stderr.")
        parser.add_argument("--token", type=Secret, default="", help="Printed on line 0.")
        parser.add_argument("--sleep", type=float, default=0.0, help="Seconds after each line.")

    def handle(self, *args, **options):
        write, padding, every = self.stdout.write, "x" * options["width"], options["stderr_every"]
        if options["token"]:
            write(f"connecting with token {options['token']}")
        for n in range(options["lines"]):
            write(f"line {n} {padding}")
            if every and n % every == 0:
                self.stderr.write(f"note {n}")
            if options["sleep"]:
                time.sleep(options["sleep"])
                self.check_stop()
        self.counters["lines"] = options["lines"]
        # The process's own peak memory, for the bench (KiB on Linux).
        self.counters["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
