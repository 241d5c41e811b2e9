"""Django's database sessions, ignoring a session key Django could never have issued.

A crafted cookie such as `sessionid=abcdefgh\\x00` reached the session query and PostgreSQL
refused the NUL character: a 500. Django's keys are letters and digits; anything else is no
session at all, as an unknown key is."""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key):
        return bool(super()._validate_session_key(key)) and key.isascii() and key.isalnum()
