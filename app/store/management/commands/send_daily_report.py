"""E-mail a day's figures to the report's recipients, once each, whatever crashes."""

import datetime
import hashlib
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.utils import DNS_NAME
from django.utils import timezone

from app.store.management.commands.compute_daily_stats import iso_date
from app.store.models import DailyStat, ReportDelivery
from batch_jobs import CommandError, ExitCode, JobCommand, email_address


class Command(JobCommand):
    help = "E-mail a day's order figures (from DailyStat) to each recipient, once."

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", type=iso_date, metavar="D", help="The day to report (default: yesterday)."
        )
        parser.add_argument(
            "--to",
            action="append",
            type=email_address,
            metavar="EMAIL",
            help="A recipient; repeat for more (default: the DAILY_REPORT_TO setting).",
        )

    def handle(self, *args, **options):
        day = options["date"] or timezone.localdate() - datetime.timedelta(days=1)
        recipients = list(dict.fromkeys(options["to"] or settings.DAILY_REPORT_TO))
        if not recipients:
            self.stdout.write("No recipients (DAILY_REPORT_TO or --to): nothing to send.")
            return
        stat = DailyStat.objects.filter(date=day).first()
        if stat is None:
            if self.dry_run:  # the dry run of compute_daily_stats before it wrote nothing
                self.stdout.write(self.style.NOTICE(f"[dry-run] no figures for {day} yet"))
                return
            raise CommandError(
                f"no figures for {day}: run compute_daily_stats --date {day} first",
                returncode=ExitCode.DATA_ERROR,
            )
        subject = f"Orders on {day}: {stat.order_count}"
        body = (
            f"Orders on {day:%A %d %B %Y}: {stat.order_count}\nTotal amount: {stat.total_amount}\n"
        )
        sent = set(
            ReportDelivery.objects.filter(
                date=day, recipient__in=recipients, state=ReportDelivery.State.SENT
            ).values_list("recipient", flat=True)
        )
        self.counters["already_sent"] = len(sent)
        todo = [r for r in recipients if r not in sent]
        if self.dry_run:
            for recipient in todo:
                self.stdout.write(self.style.NOTICE(f"[dry-run] to {recipient}: {subject}"))
            self.counters["to_send"] = len(todo)
            self.stdout.write(body, ending="")
            return
        try:
            if todo:
                with get_connection() as smtp:
                    for recipient in todo:
                        self.check_stop()  # between messages, never inside one
                        self.send(smtp, day, recipient, subject, body)
        except smtplib.SMTPRecipientsRefused as e:
            refused = ", ".join(
                f"{r} ({code} {why.decode()})" for r, (code, why) in e.recipients.items()
            )
            raise CommandError(
                f"the mail server refused {refused}", returncode=ExitCode.DATA_ERROR
            ) from e
        except (smtplib.SMTPException, OSError) as e:
            raise CommandError(
                f"sending the report failed, safe to retry: {e}", returncode=ExitCode.TEMPORARY
            ) from e
        self.stdout.write(
            self.style.SUCCESS(
                f"{day}: sent {self.counters['sent']}, already sent {self.counters['already_sent']}"
            )
        )

    def send(self, smtp, day, recipient, subject, body):
        delivery, created = ReportDelivery.objects.get_or_create(
            date=day, recipient=recipient, defaults={"message_id": message_id(day, recipient)}
        )
        # Committed before the SMTP transaction: a crash from here on leaves "sending", and
        # the rerun sends again, which is right until the server has accepted the message.
        delivery.state = ReportDelivery.State.SENDING
        delivery.attempts += 1
        delivery.save(update_fields=["state", "attempts", "updated_at"])
        message = EmailMessage(
            subject, body, to=[recipient], headers={"Message-ID": delivery.message_id}
        )
        try:
            smtp.send_messages([message])  # returns on the server's 250 to the end of DATA
        except BaseException:
            # Refused, or never sent: a first attempt leaves no row behind (a crash, which
            # runs no except clause, leaves "sending", and the rerun sends again).
            if created:
                delivery.delete()
            raise
        # The window: a crash between the server's 250 and this commit sends a second copy,
        # with the same Message-ID, on the rerun.
        delivery.state = ReportDelivery.State.SENT
        delivery.save(update_fields=["state", "updated_at"])
        self.counters["sent"] += 1


def message_id(day, recipient):
    """The same ``Message-ID`` for every attempt at one report to one recipient, so that a
    mail system that keeps one copy per id shows one, should a second copy ever go out."""
    digest = hashlib.sha256(recipient.lower().encode()).hexdigest()[:16]
    return f"<daily-report.{day:%Y%m%d}.{digest}@{DNS_NAME}>"
