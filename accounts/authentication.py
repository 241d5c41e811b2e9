"""Token authentication that learns the user's role (and time zone) in the same query as the
token.

Every API call asks "who is this and what role do they have". It is the hottest query of the
application, so it is one plain SQL statement: building it through the ORM cost more than
running it."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from accounts.models import Profile
from accounts.roles import Role

# Built once from constants (table names, the role names); the key is a parameter. A user has
# one role; should it hold several groups, the first in Role's order wins, as in role_of().
_SQL = (  # noqa: S608
    "SELECT u.*, ("
    "  SELECT g.name FROM auth_group g JOIN auth_user_groups ug ON ug.group_id = g.id"
    "  WHERE ug.user_id = u.id AND g.name IN ({roles})"
    "  ORDER BY CASE g.name {order} END LIMIT 1"
    ") AS role_name, (SELECT p.timezone FROM {profile} p WHERE p.user_id = u.id) AS profile_tz"
    " FROM {token} t JOIN {user} u ON u.id = t.user_id WHERE t.key = %s"
).format(
    roles=", ".join(f"'{r.value}'" for r in Role),
    order=" ".join(f"WHEN '{r.value}' THEN {n}" for n, r in enumerate(Role)),
    token=Token._meta.db_table,
    user=User._meta.db_table,
    profile=Profile._meta.db_table,
)


class RoleTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        # Keys are 40 hex digits: anything else cannot match, and a NUL in it was a 500 on
        # PostgreSQL, so it is refused before the query.
        if len(key) != 40 or not all(c in "0123456789abcdef" for c in key):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        # raw() applies each field's converters (timezone-aware datetimes on SQLite too).
        user = next(iter(User.objects.raw(_SQL, [key])), None)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        role_name = user.role_name
        role = Role(role_name) if role_name else (Role.ADMIN if user.is_superuser else None)
        user._fairlabel_role = role
        # Where the annotator's days start: the working-time rules need it on every call.
        user._fairlabel_tz = user.profile_tz or "UTC"
        return (user, Token(key=key, user=user))
