"""Small display filters for the owner, auditor and annotator pages: people read names, times
and durations, not codes, ISO strings and Python dict text."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.dateparse import parse_datetime
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from labeling.models import Category

register = template.Library()


@register.filter
def category_name(code: str) -> str:
    """`self_harm` -> "Self-harm", in the page's language."""
    try:
        return str(Category(code).label)
    except ValueError:
        return code


@register.filter
def when(value: Any) -> datetime | None:
    """An ISO-8601 string (as the selectors hand the API) as a datetime, for the `date` filter."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return parse_datetime(value)
    return None


@register.filter
def duration(value: Any) -> str:
    """Seconds as people say them: "19.7 s", "3 min 12 s", "2 h 05 min"."""
    try:
        seconds = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if seconds < 60:
        return _("%(s)s s") % {"s": number_format(seconds.quantize(Decimal("0.1")), 1)}
    whole = int(seconds)
    if whole < 3600:
        return _("%(m)d min %(s)02d s") % {"m": whole // 60, "s": whole % 60}
    return _("%(h)d h %(m)02d min") % {"h": whole // 3600, "m": (whole % 3600) // 60}


@register.filter
def data_preview(data: Any) -> str:
    """What a task holds, as text: its text, or its image's file name; never dict text."""
    if not isinstance(data, dict):
        return "" if data is None else str(data)
    text = data.get("text")
    if isinstance(text, str):
        return text
    image = data.get("image")
    if isinstance(image, str):
        return image.rsplit("/", 1)[-1] or image
    return ", ".join(f"{key}: {value}" for key, value in data.items())


@register.simple_tag
def span_segments(text: Any, spans: Any, labels: Any) -> list[dict[str, Any]]:
    """The text cut at span offsets (code points), each piece with its labels and colour, for
    the task page to show highlighted text instead of offsets."""
    if not isinstance(text, str) or not isinstance(spans, list):
        return []
    colors = {lab.get("value"): lab.get("color") for lab in labels or [] if isinstance(lab, dict)}
    valid = [
        s
        for s in spans
        if isinstance(s, dict)
        and isinstance(s.get("start"), int)
        and isinstance(s.get("end"), int)
        and 0 <= s["start"] < s["end"] <= len(text)
    ]
    cuts = sorted({0, len(text)} | {s["start"] for s in valid} | {s["end"] for s in valid})
    pieces = []
    for start, end in itertools.pairwise(cuts):
        names = [s["label"] for s in valid if s["start"] <= start and end <= s["end"]]
        pieces.append(
            {
                "text": text[start:end],
                "labels": names,
                "color": colors.get(names[-1]) if names else None,
            }
        )
    return pieces


@register.filter
def json_for_attr(value: Any) -> str:
    """JSON for a data- attribute (the template escapes it)."""
    import json

    return json.dumps(value, ensure_ascii=False)


@register.filter
def json_pretty(value: Any) -> str:
    """A task's data as indented JSON, not Python dict text."""
    import json

    return json.dumps(value, ensure_ascii=False, indent=2)
