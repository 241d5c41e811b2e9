"""Logging filters named in settings.LOGGING."""

from __future__ import annotations

import logging


class NoClientErrorTraceback(logging.Filter):
    """A 403 or 404 is the client's answer, not our bug: log its one line, without the
    traceback Django attaches to PermissionDenied (server errors keep theirs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
