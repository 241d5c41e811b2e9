"""Token authentication that learns the user's role in the same query as the token.

Every API call asks "who is this and what role do they have". It is the hottest query of the
application, so it is one plain SQL statement: building it through the ORM cost more than
running it."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from accounts.roles import Role

_USER_FIELDS = [f.attname for f in User._meta.concrete_fields]
# Built once from constants (table and column names, the role names); the key is a parameter.
_SQL = (  # noqa: S608
    "SELECT {columns}, ("
    "  SELECT g.name FROM auth_group g JOIN auth_user_groups ug ON ug.group_id = g.id"
    "  WHERE ug.user_id = u.id AND g.name IN ({roles}) ORDER BY g.id LIMIT 1"
    ") FROM {token} t JOIN {user} u ON u.id = t.user_id WHERE t.key = %s"
).format(
    columns=", ".join(f"u.{connection.ops.quote_name(f)}" for f in _USER_FIELDS),
    roles=", ".join(f"'{r.value}'" for r in Role),
    token=Token._meta.db_table,
    user=User._meta.db_table,
)


class RoleTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        with connection.cursor() as cursor:
            cursor.execute(_SQL, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        *fields, role_name = row
        user = User.from_db("default", _USER_FIELDS, fields)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        role = Role(role_name) if role_name else (Role.ADMIN if user.is_superuser else None)
        user._fairlabel_role = role
        return (user, Token(key=key, user=user))
