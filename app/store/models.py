"""The domain models that the example jobs act on."""

from django.db import models
from django.utils import timezone


class Customer(models.Model):
    """Someone who places orders. ``email`` is stored as typed; ``normalize_emails`` cleans it."""

    email = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return self.email


class AuthToken(models.Model):
    """An API token; ``cleanup_tokens`` deletes the expired ones."""

    value = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return f"{self.value[:6]}… ({self.created_at:%Y-%m-%d})"


class Order(models.Model):
    """An order, identified across imports by ``external_id``."""

    external_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return self.external_id


class DailyStat(models.Model):
    """Orders per calendar day (in the project's time zone), kept by ``compute_daily_stats``."""

    date = models.DateField(unique=True)
    order_count = models.PositiveIntegerField(default=0)
    total_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        ordering = ["date"]

    def __str__(self):
        return f"{self.date}: {self.order_count} orders / {self.total_amount}"
