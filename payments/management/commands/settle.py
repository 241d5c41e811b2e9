from django.core.management.base import BaseCommand

from payments.services import settle_now


class Command(BaseCommand):
    help = (
        "Settle pay now: every annotator's paid time since the last settlement, with floor "
        "top-ups (the daily beat job runs the same service). Safe to run twice."
    )

    def handle(self, *args, **options):
        job = settle_now()
        if job is None:
            self.stdout.write("Nothing to settle.")
            return
        self.stdout.write(
            f"Settled {job.period_start:%Y-%m-%d %H:%M:%S} to {job.period_end:%Y-%m-%d %H:%M:%S} "
            f"UTC: {job.annotators} annotators, {job.entries} ledger entries ({job.status})."
        )
