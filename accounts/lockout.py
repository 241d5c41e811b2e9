"""What a refused log-in gets (django-axes' AXES_LOCKOUT_CALLABLE): 429 with Retry-After, as
the JSON error shape for API clients and as a page for people."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.policies import address_wait


def lockout_response(request, original_response=None, credentials=None):
    wait = getattr(request, "fairlabel_login_wait", None)
    if wait:
        code = "login_delayed"
        detail = _(
            "Too many failed log-ins for this account: wait %(seconds)s seconds and try again."
        ) % {"seconds": wait}
    else:
        wait = max(1, address_wait(ip_address=getattr(request, "axes_ip_address", "")))
        code = "locked_out"
        detail = _(
            "Too many failed log-ins from your address: try again in %(minutes)s minutes."
        ) % {"minutes": -(-wait // 60)}
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": code, "detail": detail, "retry_after": wait}, status=429)
    else:
        response = render(
            request, "accounts/locked.html", {"detail": detail, "retry_after": wait}, status=429
        )
    response["Retry-After"] = str(wait)
    return response
