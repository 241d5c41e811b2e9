"""Token authentication that learns the user's role in the same query as the token."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from accounts.roles import Role


class RoleTokenAuthentication(TokenAuthentication):
    """Every API call asks "who is this and what role do they have": one query, not two."""

    def authenticate_credentials(self, key):
        role_name = Group.objects.filter(
            user=OuterRef("user_id"), name__in=[r.value for r in Role]
        ).order_by("id").values("name")[:1]
        token = (Token.objects.select_related("user").annotate(role_name=Subquery(role_name))
                 .filter(key=key).first())
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        role = Role(token.role_name) if token.role_name else None
        if role is None and user.is_superuser:
            role = Role.ADMIN
        user._fairlabel_role = role
        return (user, token)
