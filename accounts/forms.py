import zoneinfo

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.countries import CODES


def _timezones() -> list[tuple[str, str]]:
    return [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]


class SignupForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    country = forms.ChoiceField(
        label=_("Country"), choices=[("", "—")] + [(c, c) for c in sorted(CODES)]
    )
    timezone = forms.ChoiceField(label=_("Time zone"), initial="UTC")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = _timezones()
