"""One writer per export format. A writer receives chunks of `TaskRow` and writes bytes to a
binary file as they come, so memory stays flat however large the project.

`data`, `categories` and every `result` arrive as the JSON text the database holds: the JSON
writers splice that text in unparsed (`orjson.Fragment`), the others parse it only when needed.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import shutil
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

import orjson
from django.utils import timezone

from labeling.models import ExportFormat, Project, TaskType

CLASSIFICATION = {TaskType.TEXT_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION}
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain number is not a formula: "-5" stays -5 in a spreadsheet and in pandas.
PLAIN_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass(slots=True)
class AnnotationRow:
    id: int
    annotator: str
    result_json: str
    seconds: Decimal
    created_json: str  # the JSON string of the ISO 8601 time, quotes included
    is_extra: bool
    _result: Any = None

    @property
    def result(self) -> dict[str, Any]:
        if self._result is None:
            self._result = orjson.loads(self.result_json)
        return self._result

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "annotator": self.annotator,
            "result": orjson.Fragment(self.result_json),
            "seconds": str(self.seconds),
            "created_at": orjson.Fragment(self.created_json),
            "is_extra": self.is_extra,
        }


@dataclass(slots=True)
class TaskRow:
    id: int
    external_id: str | None
    data_json: str
    categories_json: str | None
    annotations: list[AnnotationRow] = field(default_factory=list)
    _data: Any = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = orjson.loads(self.data_json)
        return self._data


def majority_of(
    *, task_type: str, label_order: dict[str, int], results: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The majority label of a classification task and the fraction of annotations that agree
    with it. Ties go to the label listed first in the project. None for other task types."""
    n = len(results)
    if not n:
        return None
    if task_type in CLASSIFICATION:
        votes = Counter(r.get("label") for r in results)
        best = min(votes, key=lambda lab: (-votes[lab], label_order.get(lab, len(label_order))))
        return {"label": best, "agreement": round(votes[best] / n, 4)}
    if task_type == TaskType.MULTI_LABEL:
        votes = Counter(lab for r in results for lab in set(r.get("labels") or []))
        chosen = sorted(
            (lab for lab, v in votes.items() if 2 * v > n),
            key=lambda lab: label_order.get(lab, len(label_order)),
        )
        agree = sum(1 for r in results if set(r.get("labels") or []) == set(chosen))
        return {"labels": chosen, "agreement": round(agree / n, 4)}
    return None


class Writer:
    extension = "json"
    content_type = "application/json"

    def __init__(
        self,
        *,
        out: BinaryIO,
        project: Project,
        majority: bool = False,
        data_keys: list[str] | None = None,
    ) -> None:
        self.out = out
        self.project = project
        self.majority = majority
        self.task_type = project.task_type
        self.label_values = [lab["value"] for lab in project.labels]
        self.label_order = {value: n for n, value in enumerate(self.label_values)}
        self.data_keys = data_keys or []

    def begin(self) -> None:
        pass

    def write(self, rows: list[TaskRow]) -> None:
        raise NotImplementedError

    def end(self) -> None:
        pass

    def majority_for(self, row: TaskRow) -> dict[str, Any] | None:
        return majority_of(
            task_type=self.task_type,
            label_order=self.label_order,
            results=[a.result for a in row.annotations],
        )

    def task_dict(self, row: TaskRow) -> dict[str, Any]:
        """The row shape of DESIGN.md: {"id", "external_id", "data", "annotations"}."""
        item: dict[str, Any] = {
            "id": row.id,
            "external_id": row.external_id,
            "data": orjson.Fragment(row.data_json),
            "annotations": [a.as_dict() for a in row.annotations],
        }
        if row.categories_json is not None:
            item["categories"] = orjson.Fragment(row.categories_json)
        if self.majority:
            item["majority"] = self.majority_for(row)
        return item


class JsonlWriter(Writer):
    extension = "jsonl"
    content_type = "application/x-ndjson"

    def write(self, rows: list[TaskRow]) -> None:
        dumps, task_dict = orjson.dumps, self.task_dict
        self.out.write(b"".join(dumps(task_dict(row)) + b"\n" for row in rows))


class JsonWriter(Writer):
    """A JSON list, written one element at a time."""

    def begin(self) -> None:
        self.out.write(b"[")
        self.first = True

    def write(self, rows: list[TaskRow]) -> None:
        if not rows:
            return
        dumps, task_dict = orjson.dumps, self.task_dict
        body = b",\n".join(dumps(task_dict(row)) for row in rows)
        self.out.write((b"\n" if self.first else b",\n") + body)
        self.first = False

    def end(self) -> None:
        self.out.write(b"\n]\n")


def csv_safe(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    if text[:1] == "'" and text[1:2] and text[1:2] in FORMULA_START:
        return "'" + text  # so that the import, removing one quote, gives this text back
    return text


def _json_cell(value: Any) -> str:
    """A data value that is not a string, as JSON (a formula-looking one escaped)."""
    return csv_safe(orjson.dumps(value).decode())


class CsvWriter(Writer):
    """One row per task: id, external_id, categories, the data fields as columns, `json_fields`
    (which of this row's data cells hold JSON rather than text), the annotations as JSON, then
    per label the number of annotations that used it (and the majority when asked). A data
    cell is the string as it is, or, for any other value, its JSON; a field the task does not
    have is an empty cell named in json_fields (empty is not JSON). So a re-import gives back
    exactly the same data, types included."""

    extension = "csv"
    content_type = "text/csv"
    RESERVED = (
        "id",
        "external_id",
        "categories",
        "json_fields",
        "annotations",
        "majority",
        "agreement",
    )

    def begin(self) -> None:
        self.text = io.TextIOWrapper(self.out, encoding="utf-8", newline="", write_through=True)
        self.csv = csv.writer(self.text)
        data_columns = [
            key if key not in self.RESERVED and not key.startswith("label:") else f"data.{key}"
            for key in self.data_keys
        ]
        self.data_columns = data_columns
        header = [
            "id",
            "external_id",
            "categories",
            *data_columns,
            "json_fields",
            "annotations",
            *(f"label:{value}" for value in self.label_values),
        ]
        if self.majority:
            header += ["majority", "agreement"]
        self.csv.writerow([csv_safe(h) for h in header])

    def _label_counts(self, row: TaskRow) -> Counter:
        counts: Counter = Counter()
        for annotation in row.annotations:
            result = annotation.result
            if "label" in result:
                counts[result["label"]] += 1
            for lab in result.get("labels") or []:
                counts[lab] += 1
            for item in (result.get("spans") or []) + (result.get("boxes") or []):
                counts[item.get("label")] += 1
        return counts

    def write(self, rows: list[TaskRow]) -> None:
        out = []
        for row in rows:
            data = row.data
            counts = self._label_counts(row)
            annotations = orjson.dumps([a.as_dict() for a in row.annotations]).decode()
            data_cells = []
            typed = []
            for key, column in zip(self.data_keys, self.data_columns, strict=True):
                value = data.get(key)
                if isinstance(value, str):
                    data_cells.append(csv_safe(value))
                    continue
                typed.append(column)
                data_cells.append("" if key not in data else _json_cell(value))
            cells = [
                str(row.id),
                csv_safe(row.external_id),
                "" if row.categories_json is None else csv_safe(row.categories_json),
                *data_cells,
                csv_safe(orjson.dumps(typed).decode() if typed else ""),
                csv_safe(annotations),
                *(str(counts[v]) for v in self.label_values),
            ]
            if self.majority:
                majority = self.majority_for(row)
                if majority is None:
                    cells += ["", ""]
                else:
                    chosen = majority.get("label", majority.get("labels"))
                    cells += [
                        csv_safe(chosen if isinstance(chosen, str) else "|".join(chosen)),
                        str(majority["agreement"]),
                    ]
            out.append(cells)
        self.csv.writerows(out)

    def end(self) -> None:
        self.text.flush()
        self.text.detach()


class LabelStudioWriter(JsonWriter):
    """Label Studio task JSON, importable as it is into a project with this labeling config:
    Choices (multiple for multi_label), Labels or RectangleLabels named "label" on a Text named
    "text" or an Image named "image". Boxes are in percent of the image when the task's data
    gives its width and height, as Label Studio expects."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.to_name = (
            "image"
            if self.task_type in (TaskType.IMAGE_CLASSIFICATION, TaskType.IMAGE_BOXES)
            else "text"
        )

    def task_dict(self, row: TaskRow) -> dict[str, Any]:
        meta: dict[str, Any] = {"fairlabel_task_id": row.id, "external_id": row.external_id}
        if self.majority:
            meta["majority"] = self.majority_for(row)
        return {
            "id": row.id,
            "data": orjson.Fragment(row.data_json),
            "annotations": [self.annotation(row, a) for a in row.annotations],
            "meta": meta,
        }

    def annotation(self, row: TaskRow, annotation: AnnotationRow) -> dict[str, Any]:
        return {
            "result": self.result_items(row, annotation),
            "lead_time": orjson.Fragment(str(annotation.seconds)),  # the exact decimal
            "created_at": orjson.Fragment(annotation.created_json),
            "was_cancelled": False,
            "ground_truth": False,
            "meta": {"annotator": annotation.annotator, "is_extra": annotation.is_extra},
        }

    def _item(self, item_id: str, kind: str, value: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": item_id,
            "from_name": "label",
            "to_name": self.to_name,
            "type": kind,
            "origin": "manual",
            "value": value,
        }

    def result_items(self, row: TaskRow, annotation: AnnotationRow) -> list[dict[str, Any]]:
        result, prefix = annotation.result, f"a{annotation.id}"
        if self.task_type in CLASSIFICATION:
            return [self._item(f"{prefix}-0", "choices", {"choices": [result["label"]]})]
        if self.task_type == TaskType.MULTI_LABEL:
            return [self._item(f"{prefix}-0", "choices", {"choices": list(result["labels"])})]
        if self.task_type == TaskType.TEXT_SPANS:
            text = row.data.get("text") or ""
            return [
                self._item(
                    f"{prefix}-{n}",
                    "labels",
                    {
                        "start": s["start"],
                        "end": s["end"],
                        "text": text[s["start"] : s["end"]],
                        "labels": [s["label"]],
                    },
                )
                for n, s in enumerate(result["spans"])
            ]
        width, height = _size(row.data)
        if result["boxes"] and not (width and height):
            raise ImageSizeUnknown(row.id)
        items = []
        for n, box in enumerate(result["boxes"]):
            value = {
                "x": box["x"] * 100 / width,
                "y": box["y"] * 100 / height,
                "width": box["w"] * 100 / width,
                "height": box["h"] * 100 / height,
                "rotation": 0,
                "rectanglelabels": [box["label"]],
            }
            item = self._item(f"{prefix}-{n}", "rectanglelabels", value)
            item |= {"original_width": width, "original_height": height, "image_rotation": 0}
            items.append(item)
        return items


class ImageSizeUnknown(Exception):
    """A task has boxes but its image's pixel size is not known: Label Studio's percent values
    cannot be written (pixels in percent fields would be silently wrong)."""

    def __init__(self, task_id: int) -> None:
        super().__init__(
            f"task {task_id}: its image's pixel size is unknown (no width and height in its "
            "data), so its boxes cannot be given in percent; open the task once in Fairlabel "
            "or add width and height to its data"
        )
        self.task_id = task_id


def _size(data: dict[str, Any]) -> tuple[float | None, float | None]:
    width, height = data.get("width"), data.get("height")
    valid = all(
        isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in (width, height)
    )
    return (width, height) if valid else (None, None)


# --- CoNLL 2003 -------------------------------------------------------------------------------
# Characters that never start a token of their own: combining marks, joiners, variation
# selectors, emoji skin tones and tag characters.
_JOINERS = {"\u200c", "\u200d"}
_SEPARATORS = {"\u200b", "\u2060", "\ufeff"}
# Scripts written without spaces between words: each character is a token, so that any span
# over them maps to whole tokens.
_NO_SPACE_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3134F),  # CJK extensions B-G
)


def _attaches(char: str) -> bool:
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or char in _JOINERS
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    )


def _no_space(code: int) -> bool:
    return any(low <= code <= high for low, high in _NO_SPACE_RANGES)


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def tokens_of(
    text: str, boundaries: frozenset[int] | set[int] = frozenset()
) -> list[tuple[str, int, int]]:
    """(token, start, end) in `text`. White space separates tokens and is never part of one;
    a run of letters, digits and connectors is a word; any other character (punctuation, a
    symbol, an emoji) is a token of its own, and so is each character of a script written
    without spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar). Combining marks, joiners,
    variation selectors and skin tones stay with the character before them (an emoji joined
    by ZWJ, a pair of regional indicators is one token). A new token always begins at each
    offset in `boundaries` (the spans' starts and ends), so no token crosses a span."""
    tokens: list[tuple[str, int, int]] = []
    start = -1  # the current token's start, -1 when none
    kind = ""  # "word", or "single" (closed to anything but attached characters)
    joined = False  # the previous character was a ZWJ: the next one joins the token
    regional = 0  # regional indicators in the current token
    for i, char in enumerate(text):
        if start >= 0 and i in boundaries:
            tokens.append((text[start:i], start, i))
            start = -1
        if char.isspace() or char in _SEPARATORS:
            if start >= 0:
                tokens.append((text[start:i], start, i))
                start = -1
            continue
        if start >= 0 and (_attaches(char) or joined):
            joined = char == "\u200d"
            continue
        joined = False
        code = ord(char)
        word = (char.isalnum() or char == "_") and not _no_space(code)
        if start >= 0:
            if word and kind == "word":
                continue
            if _is_regional(char) and regional == 1:
                regional = 2
                continue
            tokens.append((text[start:i], start, i))
        start = i
        kind = "word" if word else "single"
        regional = 1 if _is_regional(char) else 0
        joined = False
    if start >= 0:
        tokens.append((text[start:], start, len(text)))
    return tokens


def bio_tags(tokens: list[tuple[str, int, int]], spans: list[dict[str, Any]]) -> list[str]:
    """B-/I- for tokens that start inside a span (first token B), O elsewhere."""
    tags = ["O"] * len(tokens)
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        first = True
        for i, (_tok, start, _end) in enumerate(tokens):
            if span["start"] <= start < span["end"] and tags[i] == "O":
                tags[i] = ("B-" if first else "I-") + span["label"]
                first = False
    return tags


def majority_tags(per_annotation: list[list[str]]) -> list[str]:
    """Per token, the entity label more than half the annotators gave (else O); B- where the
    majority label starts, or where most annotators who gave it began an entity there."""
    n = len(per_annotation)
    tags = []
    previous = None
    for column in zip(*per_annotation, strict=True):
        labels = Counter(t[2:] for t in column if t != "O")
        label, votes = labels.most_common(1)[0] if labels else (None, 0)
        if label is None or 2 * votes <= n:
            tags.append("O")
            previous = None
            continue
        begins = sum(1 for t in column if t == f"B-{label}")
        starts = previous != label or 2 * begins > votes
        tags.append(("B-" if starts else "I-") + label)
        previous = label
    return tags


class Conll2003Writer(Writer):
    """CoNLL 2003 NER: four columns separated by one space, `token POS chunk NER`, with `-X-`
    in the POS column and `_` in the chunk column (Fairlabel tags neither) and the entity as
    IOB2 (`B-` opens every entity). One document per labeled task, opened by
    `-DOCSTART- -X- -X- O` and a blank line and closed by a blank line. Tokens are cut by
    tokens_of at every span boundary of every annotation of the task, so each entity is whole
    tokens and its character offsets come back by finding the tokens in the task's text in
    order. Tags come from the first annotation, or from a per-token majority vote when asked.
    Tasks nobody labeled are left out: all-O documents would teach a model that they hold no
    entities."""

    extension = "conll"
    content_type = "text/plain; charset=utf-8"

    def write(self, rows: list[TaskRow]) -> None:
        parts: list[str] = []
        for row in rows:
            if not row.annotations:
                continue
            text = row.data.get("text") or ""
            boundaries = {
                offset
                for a in row.annotations
                for span in a.result.get("spans") or []
                for offset in (span["start"], span["end"])
            }
            tokens = tokens_of(text, boundaries)
            if self.majority:
                tags = majority_tags(
                    [bio_tags(tokens, a.result.get("spans") or []) for a in row.annotations]
                )
            else:
                tags = bio_tags(tokens, row.annotations[0].result.get("spans") or [])
            parts.append("-DOCSTART- -X- -X- O\n\n")
            parts.extend(
                f"{tok} -X- _ {tag}\n" for (tok, _s, _e), tag in zip(tokens, tags, strict=True)
            )
            parts.append("\n")
        self.out.write("".join(parts).encode())


def file_name_of(data: dict[str, Any]) -> str:
    """The image's own name: the zip member's path for images imported from a zip (its data's
    `name`), else the last segment of its URL's path, percent-decoded."""
    name = data.get("name")
    if isinstance(name, str) and name:
        return name
    path = urlsplit(str(data.get("image") or "")).path
    return unquote(posixpath.basename(path))


class CocoWriter(Writer):
    """COCO detection JSON: `images` (one per task: `file_name` the image's own name, `width`
    and `height` in pixels), `annotations` (one per box of every annotation: `bbox` [x, y, w, h]
    in pixels, the same box as a polygon `segmentation`, `area`, `iscrowd` 0) and `categories`
    (the project's labels, ids from 1). Images go straight to the file; boxes wait in a
    temporary file and are appended at the end."""

    def begin(self) -> None:
        self.categories = {value: n for n, value in enumerate(self.label_values, 1)}
        self.boxes = tempfile.TemporaryFile()
        self.next_id = 1
        self.first_image = True
        self.first_box = True
        header = {
            "info": {
                "description": self.project.title,
                "version": "1.0",
                "date_created": timezone.now(),
                "contributor": "Fairlabel",
            },
            "licenses": [],
            "categories": [
                {"id": n, "name": value, "supercategory": "none"}
                for value, n in self.categories.items()
            ],
        }
        self.out.write(orjson.dumps(header)[:-1] + b',"images":[')

    def write(self, rows: list[TaskRow]) -> None:
        images, boxes = [], []
        for row in rows:
            data = row.data
            url = str(data.get("image") or "")
            width, height = _size(data)
            image: dict[str, Any] = {
                "id": row.id,
                "file_name": file_name_of(data),
                "coco_url": url,
                "width": width,
                "height": height,
                "external_id": row.external_id,
            }
            images.append(orjson.dumps(image))
            for annotation in row.annotations:
                for box in annotation.result.get("boxes") or []:
                    x, y, w, h = box["x"], box["y"], box["w"], box["h"]
                    boxes.append(
                        orjson.dumps(
                            {
                                "id": self.next_id,
                                "image_id": row.id,
                                "category_id": self.categories.get(box["label"]),
                                "bbox": [x, y, w, h],
                                # The box as a polygon, clockwise from its top-left corner:
                                # pycocotools' annToMask and annToRLE need one.
                                "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
                                "area": w * h,
                                "iscrowd": 0,
                                "annotation_id": annotation.id,
                                "annotator": annotation.annotator,
                                "is_extra": annotation.is_extra,
                            }
                        )
                    )
                    self.next_id += 1
        if images:
            self.out.write((b"" if self.first_image else b",") + b",".join(images))
            self.first_image = False
        if boxes:
            self.boxes.write((b"" if self.first_box else b",") + b",".join(boxes))
            self.first_box = False

    def end(self) -> None:
        self.out.write(b'],"annotations":[')
        self.boxes.seek(0)
        shutil.copyfileobj(self.boxes, self.out, 1 << 20)
        self.boxes.close()
        self.out.write(b"]}\n")


WRITERS: dict[str, type[Writer]] = {
    ExportFormat.JSON: JsonWriter,
    ExportFormat.JSONL: JsonlWriter,
    ExportFormat.CSV: CsvWriter,
    ExportFormat.LABEL_STUDIO: LabelStudioWriter,
    ExportFormat.CONLL2003: Conll2003Writer,
    ExportFormat.COCO: CocoWriter,
}
