from batch_jobs import JobCommand
from django.db import transaction
from myapp.models import User
class Command(JobCommand):
    help = "Normalize emails to lowercase."
    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--dry-run", action="store_true")
    def handle(self, *args, **options):
        batch_size = options["batch_size"]
        dry_run = options["dry_run"]
        total = updated = 0
        qs = User.objects.exclude(email__exact="").iterator(chunk_size=batch_size)
        with transaction.atomic():
            for user in qs:
                total += 1
                normalized = user.email.lower().strip()
                if user.email == normalized:
                    continue
                user.email = normalized
                if not dry_run:
                    user.save(update_fields=["email"])
                updated += 1
                if total % batch_size == 0:
                    self.stdout.write(f" progress {total}...")
        self.stdout.write(
            self.style.SUCCESS(
                f"checked {total} / changed {updated} ({'dry' if dry_run else 'commit'})"
            )
        )
