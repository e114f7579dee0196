from batch_jobs import JobCommand
from django.db.models import Count, Sum
from django.utils import timezone
from myapp.models import Order, DailyStat
class Command(JobCommand):
    help = "Compute daily stats up to yesterday and load into DailyStat."
    def add_arguments(self, parser):
        parser.add_argument("--date", type=str, help="YYYY-MM-DD")
    def handle(self, *args, **options):
        from datetime import datetime, date, timedelta
        target = (
            datetime.strptime(options["date"], "%Y-%m-%d").date()
            if options["date"]
            else date.today() - timedelta(days=1)
        )
        agg = Order.objects.filter(created_at__date=target).aggregate(
            count=Count("id"),
            total=Sum("amount"),
        )
        DailyStat.objects.update_or_create(
            date=target,
            defaults={
                "order_count": agg["count"] or 0,
                "total_amount": agg["total"] or 0,
            },
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{target}: {agg['count']} orders / {agg['total']}"
            )
        )
