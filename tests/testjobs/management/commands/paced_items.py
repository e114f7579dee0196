"""Walk items, spending a set time per row: rows of batch "slow" cost more. With --in-sql the
time is spent in the database (PostgreSQL's pg_sleep, MariaDB's SLEEP), where
--statement-timeout can cut it (statement_timeout, max_statement_time)."""

import functools
import time

from django.db import connection

from batch_jobs import JobCommand
from tests.testjobs.models import Item


class Command(JobCommand):
    help = "Walk items at a set cost per row (more for rows of batch 'slow')."

    class Job:
        batch_size = 100

    def add_arguments(self, parser):
        parser.add_argument("--fast", type=float, default=0.0002, help="Seconds per row.")
        parser.add_argument("--slow", type=float, default=0.002, help="Per 'slow' row.")
        parser.add_argument("--in-sql", action="store_true", help="Spend it in pg_sleep.")
        parser.add_argument(
            "--statement-timeout", help="SET LOCAL statement_timeout (MariaDB: NNNms only)."
        )

    def handle(self, *args, **options):
        self.run_batches(
            Item.objects.all(), functools.partial(self.process, options), fields=["batch"]
        )

    def process(self, options, batch):
        seconds = sum(options["slow"] if b == "slow" else options["fast"] for _, b in batch.rows)
        if connection.vendor == "mysql":
            self.sleep_in_mariadb(options, seconds)
        else:
            self.sleep_in_postgresql(options, seconds)
        self.counters["rows"] += len(batch)

    def sleep_in_mariadb(self, options, seconds):
        timeout = options["statement_timeout"]
        with connection.cursor() as cursor:
            if options["in_sql"] and timeout:
                limit = float(timeout.removesuffix("ms")) / 1000
                cursor.execute(
                    f"SET STATEMENT max_statement_time = {limit:f} FOR SELECT SLEEP(%s)", [seconds]
                )
            elif options["in_sql"]:
                cursor.execute("SELECT SLEEP(%s)", [seconds])
            else:
                time.sleep(seconds)

    def sleep_in_postgresql(self, options, seconds):
        with connection.cursor() as cursor:
            if options["statement_timeout"]:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)",
                    [options["statement_timeout"]],
                )
            if options["in_sql"]:
                cursor.execute("SELECT pg_sleep(%s)", [seconds])
            else:
                time.sleep(seconds)
