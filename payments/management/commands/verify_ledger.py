from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from payments.ledger import checkpoints_advance


class Command(BaseCommand):
    help = (
        "Check the ledger: every entry's hash, every chain against its head, and every kept "
        "balance (budgets, open reservations) against the sum of its entries. Records how far "
        "each chain verified (its checkpoint), which reports start from."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since-checkpoints",
            action="store_true",
            help="Rehash only the entries written since the last checkpoints (what reports do).",
        )

    def handle(self, *args, **options):
        result = checkpoints_advance(now=timezone.now(), full=not options["since_checkpoints"])
        for problem in result.problems:
            self.stderr.write(problem)
        self.stdout.write(f"{result.entries} entries; head {result.head}; ok={result.ok}")
        if not result.ok:
            raise CommandError("The ledger does not verify.")
