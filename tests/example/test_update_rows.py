"""update_rows on columns of every kind: plain ones go to COPY as they are, the others
through Django's preparation, and a field that prepares values its own way keeps doing so."""

import datetime
import decimal

import pytest
from django.db import models

from app.store.models import Customer, Order
from batch_jobs import update_rows
from batch_jobs.backends.postgresql import passes_through

pytestmark = pytest.mark.django_db


def test_plain_and_prepared_columns_are_written_as_given():
    customer = Customer.objects.create(email="a@example.com")
    order = Order.objects.create(
        external_id="o1",
        amount=decimal.Decimal("1.00"),
        created_at=datetime.datetime.now(datetime.UTC),
    )
    when = datetime.datetime(2025, 3, 1, 12, 30, tzinfo=datetime.UTC)
    rows = [(order.pk, "o1-new", customer.pk, decimal.Decimal("12.34"), when)]
    fields = ["external_id", "customer", "amount", "created_at"]
    assert update_rows(Order, fields, rows) == 1
    order.refresh_from_db()
    assert (order.external_id, order.customer_id, order.amount, order.created_at) == (
        "o1-new",
        customer.pk,
        decimal.Decimal("12.34"),
        when,
    )


def test_a_field_with_its_own_preparation_is_not_passed_through():
    class Shouting(models.CharField):
        def get_prep_value(self, value):
            return super().get_prep_value(value).upper()

    assert passes_through(models.CharField(max_length=5))
    assert passes_through(models.BigAutoField(primary_key=True))
    assert not passes_through(Shouting(max_length=5))
    assert not passes_through(models.DecimalField(max_digits=5, decimal_places=2))
    assert not passes_through(models.JSONField())
