"""A table whose new column (``slug``) a backfill job fills before a later migration makes it
required: the three-deploy recipe in miniature."""

from django.db import models


class Gadget(models.Model):
    name = models.CharField(max_length=100)
    # NULL until the backfill fills it, as the recipe's deploy 1 adds it.
    slug = models.CharField(max_length=100, null=True)  # noqa: DJ001

    def __str__(self):
        return self.name
