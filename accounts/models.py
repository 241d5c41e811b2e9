import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

PSEUDONYM_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_pseudonym() -> str:
    """A stable random name shown to owners and auditors instead of any real name."""
    return "anno-" + "".join(secrets.choice(PSEUDONYM_ALPHABET) for _ in range(8))


class Profile(models.Model):
    """Who a user is to the rest of Fairlabel: a pseudonym, a country and a time zone."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    pseudonym = models.CharField(
        _("pseudonym"), max_length=32, unique=True, default=new_pseudonym, editable=False
    )
    country = models.CharField(
        _("country"), max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2 code")
    )
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("profile")

    def __str__(self) -> str:
        return self.pseudonym
