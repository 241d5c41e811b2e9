"""One writer per export format. A writer receives chunks of `TaskRow` and writes bytes to a
binary file as they come, so memory stays flat however large the project.

`data`, `categories` and every `result` arrive as the JSON text the database holds: the JSON
writers splice that text in unparsed (`orjson.Fragment`), the others parse it only when needed.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, BinaryIO

import orjson
from django.utils import timezone

from labeling.models import ExportFormat, Project, TaskType

CLASSIFICATION = {TaskType.TEXT_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION}
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TOKEN = re.compile(r"\w+|[^\w\s]")


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
    return "'" + text if text.startswith(FORMULA_START) else text


class CsvWriter(Writer):
    """One row per task: id, external_id, the data fields as columns, the annotations as JSON,
    then per label the number of annotations that used it (and the majority when asked)."""

    extension = "csv"
    content_type = "text/csv"
    RESERVED = ("id", "external_id", "annotations", "majority", "agreement")

    def begin(self) -> None:
        self.text = io.TextIOWrapper(self.out, encoding="utf-8", newline="", write_through=True)
        self.csv = csv.writer(self.text)
        data_columns = [
            key if key not in self.RESERVED and not key.startswith("label:") else f"data.{key}"
            for key in self.data_keys
        ]
        header = [
            "id",
            "external_id",
            *data_columns,
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
            cells = [
                str(row.id),
                csv_safe(row.external_id),
                *(csv_safe(data.get(key)) for key in self.data_keys),
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
        items = []
        for n, box in enumerate(result["boxes"]):
            if width and height:
                value = {
                    "x": box["x"] * 100 / width,
                    "y": box["y"] * 100 / height,
                    "width": box["w"] * 100 / width,
                    "height": box["h"] * 100 / height,
                }
            else:
                # Unknown image size: Label Studio wants percent; pixels are the best we have.
                value = {"x": box["x"], "y": box["y"], "width": box["w"], "height": box["h"]}
            value |= {"rotation": 0, "rectanglelabels": [box["label"]]}
            item = self._item(f"{prefix}-{n}", "rectanglelabels", value)
            if width and height:
                item |= {"original_width": width, "original_height": height, "image_rotation": 0}
            items.append(item)
        return items


def _size(data: dict[str, Any]) -> tuple[float | None, float | None]:
    width, height = data.get("width"), data.get("height")
    valid = all(
        isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in (width, height)
    )
    return (width, height) if valid else (None, None)


def tokens_of(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(text)]


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
    """CoNLL 2003 NER: `token -X- _ TAG` per line, one document per labeled task, each opened
    by `-DOCSTART- -X- -X- O` and closed by a blank line. Tags come from the first annotation,
    or from a per-token majority vote when asked. Tasks nobody labeled are left out: all-O
    documents would teach a model that they hold no entities."""

    extension = "conll"
    content_type = "text/plain; charset=utf-8"

    def write(self, rows: list[TaskRow]) -> None:
        parts: list[str] = []
        for row in rows:
            if not row.annotations:
                continue
            text = row.data.get("text") or ""
            tokens = tokens_of(text)
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


class CocoWriter(Writer):
    """COCO detection JSON: `images` (one per task), `annotations` (one per box of every
    annotation, bbox [x, y, w, h] in pixels) and `categories` (the project's labels, ids from 1).
    Images go straight to the file; boxes wait in a temporary file and are appended at the end."""

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
                "file_name": url.rsplit("/", 1)[-1],
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
