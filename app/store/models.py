"""The domain models that the example jobs act on."""

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone


class Customer(models.Model):
    """Someone who places orders. ``email`` is stored as typed; ``normalize_emails`` cleans it.

    ``joined_at`` is the data-migrations guide's three deploys done for real: it came nullable
    with a default that fills it on every new row (0003, deploy 1); ``backfill_joined_at``
    fills the rows from before it (deploy 2); 0004 waits for that backfill with a migration
    gate, then makes it NOT NULL, with a database default for rows inserted outside Django
    (deploy 3)."""

    email = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    joined_at = models.DateTimeField(default=timezone.now, db_default=Now())

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


class ReportDelivery(models.Model):
    """One day's report to one recipient, recorded around the SMTP transaction.

    ``sending`` is committed before the transaction starts and ``sent`` right after the server
    accepts the message (its 250 reply to the end of DATA), so a rerun sends again exactly
    what was not accepted, except in the window between that reply and the commit of
    ``sent``, where a crash leads to a second copy with the same ``Message-ID``.
    """

    class State(models.TextChoices):
        SENDING = "sending"
        SENT = "sent"

    date = models.DateField()
    recipient = models.EmailField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.SENDING)
    message_id = models.CharField(max_length=255)
    attempts = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["date", "recipient"], name="one_report_per_day")
        ]

    def __str__(self):
        return f"report {self.date} to {self.recipient} ({self.state})"
