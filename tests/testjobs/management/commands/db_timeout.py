"""Hit a real statement or lock timeout in PostgreSQL, or wait on a lock without one; on
MariaDB, the statement timeout, the wait and the minute's sleep."""

from django.db import connection, transaction

from batch_jobs import JobCommand


class Command(JobCommand):
    help = (
        "Run a query that PostgreSQL cancels (a statement or a lock timeout), or one that "
        "waits on a lock with no server-side timeout (only JOB_DB_TIMEOUT ends it), or a "
        "minute's pg_sleep that never checks for stops (a signal must end it at once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["statement", "lock", "wait", "sleep"])

    def handle(self, *args, **options):
        if connection.vendor == "mysql":
            return self.on_mariadb(options["kind"])
        with transaction.atomic(), connection.cursor() as cursor:
            if options["kind"] == "statement":
                cursor.execute("SET LOCAL statement_timeout = '50ms'")
                cursor.execute("SELECT pg_sleep(2)")
            elif options["kind"] == "lock":
                cursor.execute("SET LOCAL lock_timeout = '50ms'")
                cursor.execute("LOCK TABLE testjobs_item IN ACCESS EXCLUSIVE MODE")
            elif options["kind"] == "sleep":
                cursor.execute("SELECT pg_sleep(60)")
            else:
                cursor.execute("SELECT count(*) FROM testjobs_item")

    def on_mariadb(self, kind):
        with transaction.atomic(), connection.cursor() as cursor:
            if kind == "statement":
                cursor.execute("SET STATEMENT max_statement_time = 0.05 FOR SELECT SLEEP(2)")
            elif kind == "sleep":
                cursor.execute("SELECT SLEEP(60)")
            elif kind == "wait":
                cursor.execute("SELECT count(*) FROM testjobs_item")
            else:
                raise NotImplementedError(f"{kind} on MariaDB: see tests/framework/test_mysql.py")
