"""The one place settings read the environment."""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()


def _raw(name: str, default: object) -> str | object:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is _MISSING:
            raise ImproperlyConfigured(f"Set the {name} environment variable.")
        return default
    return value


def env_str(name: str, default: object = _MISSING) -> str:
    return _raw(name, default)  # type: ignore[return-value]


def env_bool(name: str, default: bool | object = _MISSING) -> bool:
    value = _raw(name, default)
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, not {value!r}.")


def env_int(name: str, default: int | object = _MISSING) -> int:
    value = _raw(name, default)
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}.") from exc


def env_decimal(name: str, default: str | object = _MISSING) -> Decimal:
    """Durations and money: accept fractions, never go through float."""
    value = _raw(name, default)
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from exc
    if not number.is_finite() or number < 0:
        raise ImproperlyConfigured(f"{name} must be a non-negative number, not {value!r}.")
    return number


def env_list(name: str, default: list[str] | object = _MISSING) -> list[str]:
    value = _raw(name, default)
    if isinstance(value, list):
        return value
    return [item.strip() for item in str(value).split(",") if item.strip()]
