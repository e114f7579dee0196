"""App config for the domain models."""

from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "app.store"
    label = "store"
    verbose_name = "Store"
