"""App config of the gated test app: a table with a column that a backfill job fills, and a
migration gate that waits on that job (``tests/gated/gates``)."""

from django.apps import AppConfig


class GatedConfig(AppConfig):
    name = "tests.gated"
    label = "gated"
