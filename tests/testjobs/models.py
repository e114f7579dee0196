"""A table of the test jobs' own, so that the framework's tests need no example project."""

from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=200)
    batch = models.CharField(max_length=50, blank=True)

    def __str__(self):
        return self.name
