"""Deploy 3 of the recipe: the gate, then the constraint that needs the backfill finished."""

from django.db import migrations, models

from batch_jobs import RequireJob


class Migration(migrations.Migration):
    dependencies = [("gated", "0001_initial")]

    operations = [
        RequireJob("fill_slugs", inline_below=0),
        migrations.AlterField(
            model_name="gadget", name="slug", field=models.CharField(max_length=100)
        ),
    ]
