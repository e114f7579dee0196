"""A gate whose job is not in the project (a typo, a job removed since)."""

from django.db import migrations

from batch_jobs import RequireJob


class Migration(migrations.Migration):
    dependencies = [("gated", "0001_initial")]

    operations = [RequireJob("fill_slgus")]
