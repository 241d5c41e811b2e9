"""/healthz: is the database answering, and is the broker reachable? Public, so it says only
ok or not; the reason goes to the log."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from fairlabel.celery import app as celery_app

log = logging.getLogger(__name__)


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception:  # health must report, not raise
        log.exception("healthz: the database does not answer")
        return {"ok": False, "vendor": connection.vendor}


def _broker() -> dict:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
        return {"ok": True, "transport": str(transport)}
    except Exception:
        log.exception("healthz: the broker cannot be reached")
        return {"ok": False}


@never_cache
def healthz(request):
    checks = {"database": _database(), "broker": _broker()}
    ok = all(check["ok"] for check in checks.values())
    return JsonResponse({"ok": ok, **checks}, status=200 if ok else 503)


class HealthCheckMiddleware:
    """Answers /healthz first, before anything reads the Host header.

    The container's own health check and load balancers probe http://localhost:8000/healthz or
    an internal address, while ALLOWED_HOSTS names the public host only: through Django's host
    validation that was a 400. /healthz reads nothing from the request and says only ok or
    not, so it needs no host check (and no HTTPS redirect); every other URL still gets both."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == "/healthz":
            return healthz(request)
        return self.get_response(request)
