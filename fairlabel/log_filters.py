"""Logging filters named in settings.LOGGING."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping


class NoClientErrorTraceback(logging.Filter):
    """A 403 or 404 is the client's answer, not our bug: log its one line, without the
    traceback Django attaches to PermissionDenied (server errors keep theirs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class _Atoms(dict):
    """gunicorn's access-log atoms with the identifying ones gone: a missing atom reads "-"."""

    def __missing__(self, key: str) -> str:
        return "-"


# gunicorn access atoms that say nothing about who asked: request line, method, path, query,
# protocol, status, sizes, durations, time, process id.
_SAFE_ATOMS = frozenset("r m U q H s B b T D L M t p".split())


class IdentityFreePaths(logging.Filter):
    """Records about a path in settings.FAIRLABEL_LOG_WITHOUT_IDENTITY (the anonymous messages
    to auditors) keep their message but lose what would tie them to a person: Django's
    `record.request` (its user, session, cookies and address, which error reporters such as the
    admin e-mails or Sentry read) and, in gunicorn's access lines, the client address, user,
    referer, user agent and headers. Other records pass unchanged."""

    def __init__(self, patterns: list[str] | None = None) -> None:
        super().__init__()
        self._patterns = None if patterns is None else [re.compile(p) for p in patterns]

    def _compiled(self) -> list[re.Pattern]:
        if self._patterns is None:
            from django.conf import settings

            self._patterns = [
                re.compile(p) for p in getattr(settings, "FAIRLABEL_LOG_WITHOUT_IDENTITY", [])
            ]
        return self._patterns

    def filter(self, record: logging.LogRecord) -> bool:
        path = _path_of(record)
        if path is None or not any(p.search(path) for p in self._compiled()):
            return True
        if hasattr(record, "request"):
            del record.request
        if isinstance(record.args, Mapping) and "U" in record.args:
            record.args = _Atoms({k: v for k, v in record.args.items() if k in _SAFE_ATOMS})
        return True


def _path_of(record: logging.LogRecord) -> str | None:
    request = getattr(record, "request", None)
    path = getattr(request, "path", None)
    if isinstance(path, str):
        return path
    args = record.args
    if isinstance(args, Mapping) and isinstance(args.get("U"), str):  # gunicorn.access
        return args["U"]
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        # django.server: the request line, "POST /path HTTP/1.1".
        parts = args[0].split()
        if len(parts) >= 2 and parts[1].startswith("/"):
            return parts[1].split("?", 1)[0]
    return None
