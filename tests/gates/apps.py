"""App config of the migration gates' test app (tests/framework/test_gates.py): a table, a
backfill job, and a migration that waits for it (``RequireJob``). Only the processes of
those tests install it (``DJANGO_EXTRA_APPS``)."""

from django.apps import AppConfig


class GatesConfig(AppConfig):
    name = "tests.gates"
    label = "gates"
    default_auto_field = "django.db.models.BigAutoField"
