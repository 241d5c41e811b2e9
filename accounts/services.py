"""Creating users: every state change here runs inside one transaction."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.countries import CODES
from accounts.models import Profile
from accounts.roles import Role
from fairlabel.errors import DomainError


def _check_country(country: str) -> str:
    country = (country or "").strip().upper()
    if country and country not in CODES:
        raise DomainError("invalid_country", f"{country!r} is not an ISO 3166 country code.")
    return country


def _check_timezone(tz: str) -> str:
    tz = (tz or "UTC").strip()
    if tz not in zoneinfo.available_timezones() and tz != "UTC":
        raise DomainError("invalid_timezone", f"{tz!r} is not a known time zone.")
    return tz


def user_create(
    *,
    username: str,
    password: str,
    role: Role,
    country: str = "",
    timezone: str = "UTC",
    email: str = "",
    check_password: bool = True,
) -> User:
    country = _check_country(country)
    timezone = _check_timezone(timezone)
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError("username_taken", f"The username {username!r} is taken.")
    user = User(username=username, email=email)
    if check_password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise DomainError("weak_password", " ".join(exc.messages)) from exc
    with transaction.atomic():
        user.set_password(password)
        user.is_staff = role == Role.ADMIN
        user.is_superuser = role == Role.ADMIN
        user.save()
        group, _ = Group.objects.get_or_create(name=role.value)
        user.groups.add(group)
        Profile.objects.create(user=user, country=country, timezone=timezone)
    return user


def annotator_signup(*, username: str, password: str, country: str, timezone: str) -> User:
    return user_create(
        username=username,
        password=password,
        role=Role.ANNOTATOR,
        country=country,
        timezone=timezone,
    )
