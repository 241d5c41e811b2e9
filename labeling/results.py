"""What a `result` must look like for each task type, and the labels a project may declare."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from fairlabel.errors import DomainError
from labeling.models import Category, TaskType

PALETTE = [
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#9333ea",
    "#ea580c",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#4f46e5",
    "#b45309",
]
HOTKEYS = "1234567890"
RESERVED_KEYS = {"s", "z", "enter", " "}


def labels_normalize(raw: Any) -> list[dict[str, str]]:
    """Strings or {"value", "color"?, "hotkey"?} objects -> [{"value", "color", "hotkey"}]."""
    if not isinstance(raw, list) or not raw:
        raise DomainError("invalid_labels", _("Give at least one label."), field="labels")
    labels: list[dict[str, str]] = []
    seen_values: set[str] = set()
    seen_keys: set[str] = set()
    # Colours the owner chose are taken first: an automatic colour never repeats one of them.
    chosen = {
        str(item["color"]).lower()
        for item in raw
        if isinstance(item, dict) and isinstance(item.get("color"), str) and item["color"]
    }
    automatic = _free_colors(chosen)
    taken_keys = {
        str(item["hotkey"]).lower()
        for item in raw
        if isinstance(item, dict) and item.get("hotkey") is not None
    }
    for index, item in enumerate(raw):
        if isinstance(item, str):
            item = {"value": item}
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise DomainError(
                "invalid_labels",
                _("Label %(n)s must be a string or an object with a value.") % {"n": index + 1},
                field="labels",
            )
        value = item["value"].strip()
        if not value or len(value) > 100 or _has_control(value):
            raise DomainError(
                "invalid_labels",
                _("Label %(n)s must have 1 to 100 characters, none of them control ones.")
                % {"n": index + 1},
                field="labels",
            )
        if value in seen_values:
            raise DomainError(
                "invalid_labels",
                _("The label “%(label)s” is listed twice.") % {"label": value},
                field="labels",
            )
        seen_values.add(value)
        color = str(item.get("color") or next(automatic))
        if not (
            len(color) == 7
            and color.startswith("#")
            and all(c in "0123456789abcdefABCDEF" for c in color[1:])
        ):
            raise DomainError(
                "invalid_labels",
                _("The colour of “%(label)s” must look like #1a2b3c.") % {"label": value},
                field="labels",
            )
        hotkey = item.get("hotkey")
        if hotkey is None:
            # Like colours: an automatic key never takes one the owner (or the stored labels)
            # already gave another label; adding a label to 1, 2, 3 gives it 4, not 3 again.
            wanted = HOTKEYS[index] if index < len(HOTKEYS) else ""
            if not wanted or wanted in taken_keys:
                wanted = next((k for k in HOTKEYS if k not in taken_keys), "")
            hotkey = wanted
            taken_keys.add(hotkey)
        hotkey = str(hotkey).lower()
        if hotkey:
            if len(hotkey) != 1 or hotkey in RESERVED_KEYS or _has_control(hotkey):
                raise DomainError(
                    "invalid_labels",
                    _("The hotkey of “%(label)s” must be one key other than S, Z, Enter or Space.")
                    % {"label": value},
                    field="labels",
                )
            if hotkey in seen_keys:
                raise DomainError(
                    "invalid_labels",
                    _("The hotkey “%(key)s” is used twice.") % {"key": hotkey},
                    field="labels",
                )
            seen_keys.add(hotkey)
        labels.append({"value": value, "color": color.lower(), "hotkey": hotkey})
    if len(labels) > 200:
        raise DomainError("invalid_labels", _("A project has at most 200 labels."), field="labels")
    return labels


def _free_colors(taken: set[str]):
    """The palette's colours not taken, then further distinct hues (golden-angle steps), so
    that up to 200 labels keep colours of their own."""
    for color in PALETTE:
        if color not in taken:
            taken.add(color)
            yield color
    hue = 0.0
    while True:
        hue = (hue + 137.508) % 360
        color = _hsl_hex(hue, 0.65, 0.42)
        if color not in taken:
            taken.add(color)
            yield color


def _hsl_hex(hue: float, saturation: float, lightness: float) -> str:
    import colorsys

    r, g, b = colorsys.hls_to_rgb(hue / 360, lightness, saturation)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


def _has_control(text: str) -> bool:
    """NUL and the other C0 controls: PostgreSQL refuses NUL, and none of them is a label."""
    return any(ord(c) < 0x20 or c == "\x7f" for c in text)


def categories_normalize(raw: Any, *, field: str = "content_categories") -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise DomainError("invalid_categories", "Categories must be a list of names.", field=field)
    unknown = sorted(set(raw) - set(Category.values))
    if unknown:
        raise DomainError(
            "invalid_categories",
            f"Unknown categories: {', '.join(unknown)}. Known: {', '.join(Category.values)}.",
            field=field,
        )
    return sorted(set(raw))


def _fail(detail: str) -> DomainError:
    return DomainError("invalid_result", detail, field="result")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def result_validate(
    *, task_type: str, labels: list[str], result: Any, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Check `result` against the task type and the project's label values; return it cleaned."""
    allowed = set(labels)
    if not isinstance(result, dict):
        raise _fail("The result must be a JSON object.")
    if task_type in (TaskType.TEXT_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION):
        label = result.get("label")
        if not isinstance(label, str) or label not in allowed:
            raise _fail(f"Choose one label among: {', '.join(labels)}.")
        return {"label": label}
    if task_type == TaskType.MULTI_LABEL:
        chosen = result.get("labels")
        if not isinstance(chosen, list) or not all(isinstance(x, str) for x in chosen):
            raise _fail('The result must be {"labels": [..]}.')
        bad = [x for x in chosen if x not in allowed]
        if bad:
            raise _fail(f"Unknown labels: {', '.join(bad)}.")
        return {"labels": sorted(set(chosen), key=labels.index)}
    if task_type == TaskType.TEXT_SPANS:
        spans = result.get("spans")
        if not isinstance(spans, list):
            raise _fail('The result must be {"spans": [{"start", "end", "label"}]}.')
        text = _text_of(data)
        cleaned = []
        for n, span in enumerate(spans, 1):
            if not isinstance(span, dict):
                raise _fail(f"Span {n} must be an object.")
            start, end, label = span.get("start"), span.get("end"), span.get("label")
            if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
                raise _fail(f"Span {n}: start and end must be integers.")
            if not 0 <= start < end or (text is not None and end > len(text)):
                raise _fail(f"Span {n}: offsets {start}-{end} are outside the text.")
            if not isinstance(label, str) or label not in allowed:
                raise _fail(f"Span {n}: unknown label {label!r}.")
            cleaned.append({"start": start, "end": end, "label": label})
        cleaned.sort(key=lambda s: (s["start"], s["end"]))
        return {"spans": cleaned}
    if task_type == TaskType.IMAGE_BOXES:
        boxes = result.get("boxes")
        if not isinstance(boxes, list):
            raise _fail('The result must be {"boxes": [{"x", "y", "w", "h", "label"}]}.')
        cleaned = []
        for n, box in enumerate(boxes, 1):
            if not isinstance(box, dict):
                raise _fail(f"Box {n} must be an object.")
            coords = [box.get(k) for k in ("x", "y", "w", "h")]
            if not all(_is_number(c) for c in coords):
                raise _fail(f"Box {n}: x, y, w and h must be numbers.")
            x, y, w, h = coords
            if x < 0 or y < 0 or w <= 0 or h <= 0:
                raise _fail(f"Box {n}: needs x, y ≥ 0 and a positive width and height.")
            if not isinstance(box.get("label"), str) or box["label"] not in allowed:
                raise _fail(f"Box {n}: unknown label {box.get('label')!r}.")
            cleaned.append({"x": x, "y": y, "w": w, "h": h, "label": box["label"]})
        return {"boxes": cleaned}
    raise _fail(f"Unknown task type {task_type!r}.")


def _text_of(data: dict[str, Any] | None) -> str | None:
    if not isinstance(data, dict):
        return None
    text = data.get("text")
    return text if isinstance(text, str) else None


# What a task's `data` must carry for each type.
REQUIRED_FIELD = {
    TaskType.TEXT_CLASSIFICATION: "text",
    TaskType.MULTI_LABEL: "text",
    TaskType.TEXT_SPANS: "text",
    TaskType.IMAGE_CLASSIFICATION: "image",
    TaskType.IMAGE_BOXES: "image",
}
