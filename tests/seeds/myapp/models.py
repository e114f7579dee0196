"""The models the seed tutorial's commands use (001_*.txt), as small as they need."""

from django.db import models
from django.utils import timezone


class AuthToken(models.Model):
    value = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)


class Order(models.Model):
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(default=timezone.now)


class DailyStat(models.Model):
    date = models.DateField(unique=True)
    order_count = models.PositiveIntegerField(default=0)
    total_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)


class User(models.Model):
    email = models.CharField(max_length=254, blank=True)
