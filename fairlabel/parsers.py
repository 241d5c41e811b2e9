"""The API's JSON parser: DRF's, plus the refusals of what used to end as a 500.

* Nesting: Python's parser raises RecursionError near 1,000 levels, and anything that walks a
  structure a few hundred levels deep later (serializers, json.dumps, psycopg) can too. No
  Fairlabel body needs more than a handful of levels, so bodies deeper than MAX_DEPTH are
  refused before any view sees them.
* Numbers out of range: "1e400" parses as infinity, which jsonb refuses.
* NUL: PostgreSQL's text and jsonb columns cannot hold U+0000, in a value or in a key. Refusing
  it here covers every field of every endpoint, now and later, in one place.
"""

from __future__ import annotations

import math
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 100
NUL = "\x00"


def json_check(data: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise ParseError when `data` nests deeper than max_depth or holds a NUL character.

    Iterative, so that the check itself cannot overflow the stack."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                raise ParseError("Text may not contain the NUL character (\\u0000).", "nul")
        elif isinstance(value, float):
            if not math.isfinite(value):  # 1e400 parses as infinity, which jsonb refuses
                raise ParseError("Numbers must be finite.", "not_finite")
        elif isinstance(value, dict | list):
            if depth >= max_depth:
                raise ParseError(f"JSON nested deeper than {max_depth} levels.", "too_deep")
            if isinstance(value, dict):
                stack.extend((key, depth + 1) for key in value)
                stack.extend((item, depth + 1) for item in value.values())
            else:
                stack.extend((item, depth + 1) for item in value)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.", "too_deep") from exc
        json_check(data)
        return data
