"""Hit a real statement or lock timeout in PostgreSQL."""

from django.db import connection, transaction

from jobs.framework import JobCommand


class Command(JobCommand):
    help = "Run a query that PostgreSQL cancels: a statement timeout or a lock timeout."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["statement", "lock"])

    def handle(self, *args, **options):
        with transaction.atomic(), connection.cursor() as cursor:
            if options["kind"] == "statement":
                cursor.execute("SET LOCAL statement_timeout = '50ms'")
                cursor.execute("SELECT pg_sleep(2)")
            else:
                cursor.execute("SET LOCAL lock_timeout = '50ms'")
                cursor.execute("LOCK TABLE store_customer IN ACCESS EXCLUSIVE MODE")
