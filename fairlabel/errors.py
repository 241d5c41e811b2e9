"""The one error type services raise; the API layer turns it into {"error", "detail"}."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class DomainError(Exception):
    status_code = 400

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        status: int | None = None,
        until: datetime | None = None,
        rule: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        if status is not None:
            self.status_code = status
        self.until = until
        self.rule = rule
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "detail": str(self.detail)}
        if self.until is not None or self.rule is not None:
            body["until"] = self.until.isoformat() if self.until else None
            body["rule"] = self.rule
        body.update(self.extra)
        return body
