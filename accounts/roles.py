"""The four roles. A user has exactly one, held as a Django group."""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, User


class Role(StrEnum):
    ANNOTATOR = "annotator"
    OWNER = "owner"
    AUDITOR = "auditor"
    ADMIN = "admin"


def role_of(user: User | AnonymousUser) -> Role | None:
    """The user's role, cached on the instance so a request asks the database once."""
    if not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, "_fairlabel_role", None)
    if cached is not None:
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = next((r for r in Role if r.value in names), None)
    if role is None and user.is_superuser:
        role = Role.ADMIN
    user._fairlabel_role = role  # type: ignore[union-attr]
    return role
