import zoneinfo
from datetime import datetime

from django import forms
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from accounts.countries import CODES

# The regions of the IANA names people live in; "Etc/GMT+3", "US/Eastern" and the other
# legacy aliases are left out (599 names become about 430, each one a real place).
REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)


def _offset(name: str) -> str:
    offset = datetime.now(zoneinfo.ZoneInfo(name)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def timezone_choices() -> list:
    """Grouped by region, each place by its name and its current offset:
    Europe → "Paris (UTC+01:00)". The value stays the IANA name."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in zoneinfo.available_timezones():
        region, _sep, place = name.partition("/")
        if region not in REGIONS or not place:
            continue
        label = place.replace("_", " ").replace("/", " / ")
        groups.setdefault(region, []).append((name, f"{label} ({_offset(name)})"))
    choices: list = [("UTC", "UTC")]
    for region in sorted(groups):
        choices.append((region, sorted(groups[region], key=lambda c: c[1])))
    return choices


def country_choices() -> list[tuple[str, str]]:
    """Country names in the page's language, sorted as people read them."""
    return [("", "—")] + [(code, name) for code, name in countries if code in CODES]


class SignupForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    country = forms.ChoiceField(label=_("Country"))
    # The browser's own time zone is chosen for the annotator (static/js/signup.js).
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        initial="UTC",
        widget=forms.Select(attrs={"data-browser-default": "1"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = country_choices()
        self.fields["timezone"].choices = timezone_choices()
        if self.is_bound:
            self.fields["timezone"].widget.attrs.pop("data-browser-default", None)
