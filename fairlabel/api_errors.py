"""Every API error is JSON: {"error": CODE, "detail": TEXT} plus fields where they apply."""

from __future__ import annotations

import math

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from fairlabel.errors import DomainError

_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


class ErrorOut(serializers.Serializer):
    """The shape of every error answer, for the OpenAPI schema."""

    error = serializers.CharField(help_text="A stable code, e.g. invalid, not_found, break.")
    detail = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(required=False, help_text="Messages per input field.")
    field = serializers.CharField(required=False, help_text="The input field at fault.")
    until = serializers.DateTimeField(required=False, allow_null=True)
    rule = serializers.CharField(required=False, allow_null=True, help_text="URL of the rule.")
    retry_after = serializers.IntegerField(required=False, help_text="Seconds to wait.")


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        # A model's full_clean() refusing what a service let through: the client's input, a 400.
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"}:
        code = getattr(data["detail"], "code", None) or _CODES.get(response.status_code, "error")
        response.data = {"error": code, "detail": str(data["detail"])}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response.data["retry_after"] = math.ceil(exc.wait)
    else:
        # Field validation errors: every field's messages beside a readable summary.
        response.data = {"error": "invalid", "detail": _first_message(data), "fields": data}
    return response


def _first_message(data) -> str:
    if isinstance(data, dict):
        for key, value in data.items():
            message = _first_message(value)
            return message if key == "non_field_errors" else f"{key}: {message}"
    if isinstance(data, list) and data:
        return _first_message(data[0])
    return str(data)


def not_found(request, exception=None):
    """handler404: JSON under /api/ (the error shape), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "not_found", "detail": "Not found."}, status=404)
    return page_not_found(request, exception)
