"""Deploy 3 of the data-migrations guide: the gate, then the constraint.

``migrate`` passes the gate once ``backfill_joined_at`` has walked every customer (deploy 2
runs it); with at most 10,000 rows left (a developer's or a test database) the gate walks
them inline; else ``migrate`` stops with exit 75 and one line saying what to run."""

import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models

import batch_jobs


class Migration(migrations.Migration):
    dependencies = [("store", "0003_customer_joined_at")]

    operations = [
        batch_jobs.RequireJob("backfill_joined_at"),
        migrations.AlterField(
            model_name="customer",
            name="joined_at",
            field=models.DateTimeField(
                db_default=django.db.models.functions.datetime.Now(),
                default=django.utils.timezone.now,
            ),
        ),
    ]
