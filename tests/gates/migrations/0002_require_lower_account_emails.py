"""The gate, then the constraint. The tests choose, through the environment, whether the
migration is atomic (``GATE_ATOMIC``) and how many rows the gate walks inline
(``GATE_INLINE_BELOW``)."""

import os

from django.db import migrations, models

import batch_jobs


class Migration(migrations.Migration):
    atomic = os.environ.get("GATE_ATOMIC", "1") == "1"

    dependencies = [("gates", "0001_initial")]

    operations = [
        batch_jobs.RequireJob(
            "lower_account_emails",
            args=["--batch-size", "50"],
            inline_below=int(os.environ.get("GATE_INLINE_BELOW", "100")),
        ),
        migrations.AlterField(
            model_name="account",
            name="email_lower",
            field=models.CharField(max_length=200),
        ),
    ]
