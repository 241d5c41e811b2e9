from django.core.management.base import BaseCommand, CommandError

from accounts.roles import Role
from accounts.services import user_create
from fairlabel.errors import DomainError


class Command(BaseCommand):
    help = "Create a user with one role: annotator, owner, auditor or admin."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--password", required=True)
        parser.add_argument("--country", default="")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--email", default="")

    def handle(self, *args, **opts):
        try:
            user = user_create(
                username=opts["username"],
                password=opts["password"],
                role=Role(opts["role"]),
                country=opts["country"],
                timezone=opts["timezone"],
                email=opts["email"],
                check_password=False,
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {user.username} ({opts['role']}), pseudonym {user.profile.pseudonym}"
            )
        )
