"""Label Studio's flat exports: JSON_MIN, CSV and TSV (label_studio_sdk.converter: `json_min`
and `csv2`). Each row is one annotation of one task, `{<task data keys>, "id", <control tag
name>: <result>, "annotator", "annotation_id", "created_at", "updated_at", "lead_time",
"agreement"?, "history"?}`; a task nobody annotated has one row whose annotation keys are null
(empty cells in CSV). Rows of one task follow each other: they are grouped into one task whose
annotations become its suggestions, in the order of their ids. The converter has already left
out cancelled annotations.

Which keys are results is not written in the file. A key is a result when its value has the
shape the converter gives results (a list of region values with `choices`, `labels` or
`rectanglelabels`; an object with `choices`), or, in a classification project, when it is a
label of the project in an annotated row and is not the task's required field. The decision is
taken once per key, at the first annotated row that fills it, and holds for the whole file."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

import orjson

from labeling.importing.parsers import RowError
from labeling.importing.rows import CHOICE_TYPES, RowProblem, RowReader, external_id_of
from labeling.models import TaskType

# Keys the converter writes on every row, whatever the labeling config.
SIGNATURE = frozenset({"annotator", "annotation_id", "created_at", "updated_at", "lead_time"})
ANNOTATION_KEYS = (*SIGNATURE, "agreement", "history")
# The converter renames a data key that collides with a control tag's name to `_data_<key>`.
COLLIDING_PREFIX = "_data_"
REGION_KEYS = ("rectanglelabels", "labels", "choices")
LOOKAHEAD_ROWS = 10_000


def is_label_studio_flat(row: Any) -> bool:
    return row.__class__ is dict and SIGNATURE <= row.keys() and "id" in row


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _region_type(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in REGION_KEYS:
            if isinstance(value.get(key), list):
                return key
    return None


class FlatRows:
    """Turns the rows of a JSON_MIN, CSV or TSV export into `(data, external id, None,
    predictions)` tuples, one per task, for the loader."""

    def __init__(self, reader: RowReader, *, cells: bool) -> None:
        self.reader = reader
        self.cells = cells  # CSV/TSV: every value is text; results are JSON text
        self.results: set[str] = set()
        self.data_keys: set[str] = set()
        self.labels = set(reader.labels)
        # The converter writes a single chosen label as a bare string (multi-label too).
        self.choices = reader.task_type in (*CHOICE_TYPES, TaskType.MULTI_LABEL)

    # --- one value -------------------------------------------------------------------------
    def parsed(self, value: Any) -> Any:
        if self.cells and isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                return value
        return value

    def looks_like_result(self, value: Any) -> bool:
        if isinstance(value, list):
            return bool(value) and all(_region_type(v) for v in value)
        if isinstance(value, dict):
            return _region_type(value) == "choices"
        return self.choices and isinstance(value, str) and value in self.labels

    def decide(self, row: dict[str, Any]) -> None:
        """At an annotated row: every key not yet known and filled here is a result or data."""
        for key, value in row.items():
            if key in self.results or key in self.data_keys or _empty(value):
                continue
            if key != self.reader.required and self.looks_like_result(self.parsed(value)):
                self.results.add(key)
            else:
                self.data_keys.add(key)

    def regions(self, key: str, value: Any, where: str) -> list[dict[str, Any]]:
        """A result value as Label Studio regions, for RowReader.result_of."""
        value = self.parsed(value)
        if isinstance(value, str):
            return [{"type": "choices", "value": {"choices": [value]}}]
        items = value if isinstance(value, list) else [value]
        regions = []
        for item in items:
            kind = _region_type(item)
            if kind is None:
                raise RowProblem(f"{where}: the result in {key!r} is not one Fairlabel can read")
            regions.append(
                {
                    "type": kind,
                    "value": item,
                    "original_width": item.get("original_width"),
                    "original_height": item.get("original_height"),
                }
            )
        return regions

    # --- one row ---------------------------------------------------------------------------
    def split(self, line: int, row: dict[str, Any]) -> tuple[Any, dict, Any, list]:
        """(task id, data, annotation id, [(key, value)] results) of one row."""
        row = dict(row)
        task_id = row.pop("id")
        annotation_id = row.get("annotation_id")
        annotated = not _empty(annotation_id)
        for key in ANNOTATION_KEYS:
            row.pop(key, None)
        if annotated:
            self.decide(row)
        data: dict[str, Any] = {}
        results = []
        for key, value in row.items():
            if key in self.results:
                if annotated and not _empty(value):
                    results.append((key, value))
            elif key.endswith("_transcript") and key[: -len("_transcript")] in self.results:
                continue
            elif key in self.data_keys or not (self.cells and _empty(value)):
                # An empty cell of a column not yet seen filled is an unannotated task's
                # empty result more often than data: it is left out.
                name = key[len(COLLIDING_PREFIX) :] if key.startswith(COLLIDING_PREFIX) else key
                data[name] = value
        return task_id, data, annotation_id, results

    def task(self, group: list[tuple[int, Any, dict, Any, list]]) -> tuple[int, Any]:
        line, task_id, data, _annotation, _results = group[0]
        reader = self.reader
        try:
            if self.cells and isinstance(task_id, str) and task_id.strip().isdigit():
                task_id = int(task_id.strip())
            ext = external_id_of(None if _empty(task_id) else task_id)
            annotated = [g for g in group if g[4]]
            ids = [_int(g[3]) for g in annotated]
            if all(i is not None for i in ids):
                annotated = [
                    g for _, g in sorted(zip(ids, annotated, strict=True), key=lambda p: p[0])
                ]
            predictions = []
            reader.image_size = None
            for row_line, _tid, _data, annotation_id, results in annotated:
                where = f"annotation {annotation_id}" if not _empty(annotation_id) else "annotation"
                regions = []
                for key, value in results:
                    regions.extend(self.regions(key, value, where))
                if not regions:
                    continue
                if row_line != line:
                    where = f"{where} (line {row_line})"
                predictions.append(
                    {"result": reader.result_of(regions, data, where), "model": "annotation"}
                )
            reader.keep_image_size(data)
        except RowProblem as exc:
            return line, RowError(str(exc))
        return line, (data, ext, None, predictions or None)

    def rows(self, records: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
        records = iter(records)
        # Until an annotated row shows which keys are results, rows wait (a bounded number).
        waiting = []
        for line, row in records:
            waiting.append((line, row))
            if is_label_studio_flat(row) and not _empty(row.get("annotation_id")):
                self.decide(
                    {k: v for k, v in row.items() if k != "id" and k not in ANNOTATION_KEYS}
                )
                break
            if len(waiting) >= LOOKAHEAD_ROWS:
                break
        group: list = []
        for line, row in chain(waiting, records):
            if row.__class__ is RowError:
                yield line, row
                continue
            if not is_label_studio_flat(row):
                yield (
                    line,
                    RowError(
                        "this row is not a Label Studio JSON_MIN/CSV row like the first one (it "
                        "lacks id, annotator, annotation_id, created_at, updated_at or lead_time)"
                    ),
                )
                continue
            try:
                task_id, data, annotation_id, results = self.split(line, row)
            except RowProblem as exc:
                yield line, RowError(str(exc))
                continue
            if group and group[0][1] == task_id:
                group.append((line, task_id, data, annotation_id, results))
                continue
            if group:
                yield self.task(group)
            group = [(line, task_id, data, annotation_id, results)]
        if group:
            yield self.task(group)


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
