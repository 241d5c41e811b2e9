"""Messages that are stored before anyone reads them (an import's errors, written by a worker
that has no reader's language) and shown later in the reader's language.

`Message(gettext_noop("the id %(id)s appears twice"), id="a1")` is a str whose value is the
English text (what logs, tests and old readers see), which also remembers its msgid and
parameters: `str(message)` and `message_text(stored)` translate it into the active language.
Parameters may be Messages themselves ("prediction 2: <why>")."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext


class Message(str):
    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Message:
        english = msgid % {k: _english(v) for k, v in params.items()} if params else msgid
        obj = super().__new__(cls, english)
        obj.msgid = msgid
        obj.params = params
        return obj

    def __str__(self) -> str:
        return _render(self.as_json())

    def __reduce__(self):  # pickled (Celery, caches) as what it is
        return (_rebuild, (self.msgid, self.params))

    def as_json(self) -> dict[str, Any]:
        return {
            "msgid": self.msgid,
            "params": {
                k: v.as_json() if isinstance(v, Message) else v for k, v in self.params.items()
            },
        }


def _rebuild(msgid: str, params: dict[str, Any]) -> Message:
    return Message(msgid, **params)


def _english(value: Any) -> Any:
    return str.__str__(value) if isinstance(value, Message) else value


def _render(stored: dict[str, Any]) -> str:
    params = {
        k: _render(v) if isinstance(v, dict) and "msgid" in v else v
        for k, v in (stored.get("params") or {}).items()
    }
    text = gettext(stored["msgid"])
    try:
        return text % params if params else text
    except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder
        return stored["msgid"] % params if params else stored["msgid"]


def message_text(entry: dict[str, Any]) -> str:
    """The text of a stored {"message", "msg"?} entry in the active language."""
    stored = entry.get("msg")
    if isinstance(stored, dict) and isinstance(stored.get("msgid"), str):
        return _render(stored)
    return str(entry.get("message", ""))
