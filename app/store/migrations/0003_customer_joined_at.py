"""Deploy 1 of the data-migrations guide: a nullable column, and the code that writes it on
new rows (the field's default, which bulk_create applies too).

Two operations where makemigrations writes one: an AddField with the default would fill every
existing row with the time of this migration, and leave the backfill nothing to do. The column
is added bare; the default is the model's, in Python, from then on."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("store", "0002_report_delivery")]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="joined_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AlterField(  # the Python default only: no SQL
            model_name="customer",
            name="joined_at",
            field=models.DateTimeField(default=django.utils.timezone.now, null=True),
        ),
    ]
