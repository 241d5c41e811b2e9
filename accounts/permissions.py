"""Role checks for API views and pages: every endpoint names the roles it serves."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from accounts.roles import Role, role_of


def HasRole(*roles: Role) -> type[BasePermission]:
    allowed = frozenset(roles)

    class _HasRole(BasePermission):
        message = "Your role cannot do this."

        def has_permission(self, request, view) -> bool:
            return role_of(request.user) in allowed

    _HasRole.__name__ = "HasRole_" + "_".join(sorted(r.value for r in allowed))
    return _HasRole


def role_required(*roles: Role) -> Callable:
    allowed = frozenset(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if role_of(request.user) not in allowed:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
