from django.core.management.base import BaseCommand, CommandError

from payments.ledger import verify


class Command(BaseCommand):
    help = (
        "Check the ledger: every entry's hash, every chain against its head, and every kept "
        "balance (budgets, open reservations) against the sum of its entries."
    )

    def handle(self, *args, **options):
        result = verify()
        for problem in result.problems:
            self.stderr.write(problem)
        self.stdout.write(f"{result.entries} entries; head {result.head}; ok={result.ok}")
        if not result.ok:
            raise CommandError("The ledger does not verify.")
