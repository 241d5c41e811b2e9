from __future__ import annotations

from django.contrib.auth.models import User

from accounts.models import Profile


def pseudonym_of(user: User) -> str:
    profile = getattr(user, "profile", None)
    return profile.pseudonym if profile else f"user-{user.pk}"


def pseudonyms_for(user_ids: list[int]) -> dict[int, str]:
    """One query for many annotators, as owners and auditors see them."""
    rows = Profile.objects.filter(user_id__in=user_ids).values_list("user_id", "pseudonym")
    found = dict(rows)
    return {uid: found.get(uid, f"user-{uid}") for uid in user_ids}
