"""One table: ``email_lower`` came nullable (0001), a backfill fills it, and 0002 makes it
NOT NULL behind a gate."""

from django.db import models


class Account(models.Model):
    email = models.CharField(max_length=200)
    email_lower = models.CharField(max_length=200)

    def __str__(self):
        return self.email
