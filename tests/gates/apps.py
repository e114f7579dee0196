"""App config of the migration gates' test app of ``migrate`` run as a process
(tests/gates/test_migrate.py, tests/reliability/test_mariadb.py): a table, a backfill job,
and a migration that waits for it (``RequireJob``). Only those processes install it
(``DJANGO_EXTRA_APPS``); the in-process tests of ``jobctl backfills`` and the console use
tests/gated, whose gate stays pending in the test database."""

from django.apps import AppConfig


class GatesConfig(AppConfig):
    name = "tests.gates"
    label = "gates"
    default_auto_field = "django.db.models.BigAutoField"
