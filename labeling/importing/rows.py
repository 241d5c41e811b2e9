"""From a decoded record to the columns of one task, or the plain reason it cannot be one.

Row shapes (every format): an object with a "data" object is `{"data", "external_id"?, "id"?,
"categories"?, "predictions"?, "annotations"?, "meta"?}`, as Fairlabel and Label Studio export
it; other keys are ignored. Its external id is "external_id" when that key is present (null: none),
else Label Studio's "meta.external_id" when present, else "id". Annotations come back as
predictions (suggestions), after the row's own predictions, in the order of their ids: an import
never makes up paid work by people who did not do it. Any other object is the data itself, with
"id" and "categories" pulled out of it."""

from __future__ import annotations

from typing import Any

import orjson
from django.utils.translation import gettext_noop

from fairlabel.errors import DomainError
from fairlabel.messages import Message as M
from labeling.models import Project, TaskType
from labeling.results import REQUIRED_FIELD, categories_normalize, result_validate
from labeling.services import task_row_check

MAX_EXTERNAL_ID = 255


class RowProblem(Exception):
    """Why one row cannot become a task."""


def external_id_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RowProblem(M(gettext_noop("the id must be a string or a whole number")))
    text = str(value)
    if not text or len(text) > MAX_EXTERNAL_ID:
        raise RowProblem(
            M(gettext_noop("the id must have 1 to %(n)s characters"), n=MAX_EXTERNAL_ID)
        )
    return text


def categories_of(value: Any) -> list[str]:
    try:
        return categories_normalize(value, field="categories")
    except DomainError as exc:
        raise RowProblem(exc.detail[0].lower() + exc.detail[1:].rstrip(".")) from exc


def categories_from_cell(cell: str) -> list[str] | None:
    """A CSV cell: empty means "not given" (the project's categories apply); `[]` marks the task
    safe; else names separated by ";" or a JSON list."""
    cell = cell.strip()
    if not cell:
        return None
    if cell.startswith("["):
        try:
            value = orjson.loads(cell)
        except orjson.JSONDecodeError as exc:
            raise RowProblem(M(gettext_noop("the categories cell is not a JSON list"))) from exc
        return categories_of(value)
    return categories_of([c.strip() for c in cell.split(";") if c.strip()])


class RowReader:
    """Validates rows for one project; built once per import so the hot loop does little."""

    def __init__(self, project: Project, *, label_studio: bool = False) -> None:
        self.project = project
        self.task_type = project.task_type
        self.required = REQUIRED_FIELD[TaskType(project.task_type)]
        self.labels = [label["value"] for label in project.labels]
        self.label_studio = label_studio
        self.image_size: tuple[Any, Any] | None = None

    def keep_image_size(self, data: dict[str, Any]) -> None:
        """An image's pixel size learned from Label Studio regions (`original_width`,
        `original_height`) is kept in the task's data when the data does not give it."""
        if self.image_size is not None and "width" not in data and "height" not in data:
            data["width"], data["height"] = self.image_size
        self.image_size = None

    def missing_field(self, data: Any) -> str:
        return task_row_check(project=self.project, data=data) or M(
            gettext_noop("the task data is not valid")
        )

    def unwrap(self, obj: dict[str, Any]) -> tuple[dict, str | None, list[str] | None, list | None]:
        """(data, external id, categories or None, predictions or None) of a row object that
        carries any of the wrapper keys."""
        data = obj.get("data")
        if isinstance(data, dict):
            self.image_size = None
            if "external_id" in obj:
                ext = obj["external_id"]
            else:
                meta = obj.get("meta")
                ext = (
                    meta["external_id"]
                    if meta.__class__ is dict and "external_id" in meta
                    else obj.get("id")
                )
            categories = obj.get("categories")
            predictions = obj.get("predictions")
            if predictions is not None:
                predictions = self.predictions_of(predictions, data)
            annotations = obj.get("annotations")
            if annotations is not None:
                labels = self.annotations_of(annotations, data)
                if labels:
                    predictions = labels if predictions is None else predictions + labels
            self.keep_image_size(data)
            return (
                data,
                external_id_of(ext),
                None if categories is None else categories_of(categories),
                predictions,
            )
        if self.label_studio:
            raise RowProblem(M(gettext_noop('a Label Studio task needs a "data" object')))
        data = {k: v for k, v in obj.items() if k != "id" and k != "categories"}
        categories = obj.get("categories")
        return (
            data,
            external_id_of(obj.get("id")),
            None if categories is None else categories_of(categories),
            None,
        )

    # --- predictions -----------------------------------------------------------------------
    def predictions_of(self, value: Any, data: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Fairlabel's prediction shape: [{"result", "score"?, "model"?}]. A Label Studio
        prediction (a list of regions under "result") is converted to the task type's result."""
        if not isinstance(value, list):
            raise RowProblem(M(gettext_noop("predictions must be a list")))
        cleaned = []
        for n, prediction in enumerate(value, 1):
            if isinstance(prediction, int) and not isinstance(prediction, bool):
                # Label Studio's Export page may give predictions by id only: nothing to import.
                continue
            if not isinstance(prediction, dict):
                raise RowProblem(M(gettext_noop("prediction %(n)s must be an object"), n=n))
            if prediction.get("result") == [] and self.task_type in CHOICE_TYPES:
                continue  # an empty Label Studio prediction chooses nothing
            item: dict[str, Any] = {
                "result": self.result_of(
                    prediction.get("result"), data, M(gettext_noop("prediction %(n)s"), n=n)
                )
            }
            score = prediction.get("score")
            if score is not None:
                if isinstance(score, bool) or not isinstance(score, int | float):
                    raise RowProblem(
                        M(gettext_noop("prediction %(n)s: the score must be a number"), n=n)
                    )
                item["score"] = score
            # Label Studio exports `model` too: null, or the id of its ML backend.
            model = prediction.get("model")
            if not isinstance(model, str) or not model:
                model = prediction.get("model_version")
            if model is not None and model != "":
                item["model"] = str(model)[:200]
            cleaned.append(item)
        return cleaned or None

    def annotations_of(self, value: Any, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Exported annotations as predictions, in the order of their ids (file order when they
        have none): `{"result", "model": "annotation:<annotator>"}`. Fairlabel exports give
        results of the task type; Label Studio ones give regions, converted as for predictions.
        Label Studio annotations marked `was_cancelled` (skipped tasks) are left out."""
        if not isinstance(value, list):
            raise RowProblem(M(gettext_noop("annotations must be a list")))
        numbered = []
        for n, annotation in enumerate(value, 1):
            if not isinstance(annotation, dict):
                raise RowProblem(M(gettext_noop("annotation %(n)s must be an object"), n=n))
            if annotation.get("was_cancelled") is True or annotation.get("skipped") is True:
                continue
            if annotation.get("result") == [] and self.task_type in CHOICE_TYPES:
                continue  # submitted empty in Label Studio: it chooses nothing
            numbered.append((n, annotation))
        ids = [a.get("id") for _, a in numbered]
        if len(numbered) > 1 and all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            numbered = [
                pair
                for _, pair in sorted(zip(ids, numbered, strict=True), key=lambda item: item[0])
            ]
        cleaned = []
        for n, annotation in numbered:
            item: dict[str, Any] = {
                "result": self.result_of(
                    annotation.get("result"), data, M(gettext_noop("annotation %(n)s"), n=n)
                )
            }
            meta = annotation.get("meta")
            annotator = annotation.get(
                "annotator", meta.get("annotator") if isinstance(meta, dict) else None
            )
            if annotator is None:
                annotator = _label_studio_user(annotation.get("completed_by"))
            item["model"] = (
                f"annotation:{annotator}"[:200]
                if isinstance(annotator, str) and annotator
                else "annotation"
            )
            cleaned.append(item)
        return cleaned

    def result_of(self, result: Any, data: dict[str, Any], where: str) -> dict[str, Any]:
        """A result of the task type, validated; a list of Label Studio regions is converted."""
        try:
            if isinstance(result, list):
                result = self._from_label_studio(result, where)
            return result_validate(
                task_type=self.task_type, labels=self.labels, result=result, data=data
            )
        except DomainError as exc:
            raise RowProblem(_at(where, exc.detail)) from exc

    def _from_label_studio(self, regions: list, where: str) -> dict[str, Any]:
        choices: list[str] = []
        spans: list[dict[str, Any]] = []
        boxes: list[dict[str, Any]] = []
        for region in regions:
            if isinstance(region, dict) and region.get("type") == "relation":
                continue  # a link between two regions: nothing Fairlabel labels
            if not isinstance(region, dict) or not isinstance(region.get("value"), dict):
                raise RowProblem(
                    _at(where, M(gettext_noop("each result region needs a value object")))
                )
            kind = region.get("type")
            value = region["value"]
            if kind == "choices":
                choices.extend(_strings(value.get("choices"), where, "choices"))
            elif kind == "labels":
                for label in _strings(value.get("labels"), where, "labels"):
                    spans.append(
                        {"start": value.get("start"), "end": value.get("end"), "label": label}
                    )
            elif kind == "rectanglelabels":
                width = region.get("original_width", value.get("original_width"))
                height = region.get("original_height", value.get("original_height"))
                if not (_number(width) and _number(height) and width > 0 and height > 0):
                    raise RowProblem(
                        _at(
                            where,
                            M(
                                gettext_noop(
                                    "a rectangle needs original_width and original_height "
                                    "to turn percent into pixels"
                                )
                            ),
                        )
                    )
                coords = [value.get(k) for k in ("x", "y", "width", "height")]
                if not all(_number(c) for c in coords):
                    raise RowProblem(
                        _at(where, M(gettext_noop("a rectangle needs numeric x, y, width, height")))
                    )
                x, y, w, h = coords
                self.image_size = (width, height)
                for label in _strings(value.get("rectanglelabels"), where, "rectanglelabels"):
                    boxes.append(
                        {
                            "x": round(x * width / 100, 2),
                            "y": round(y * height / 100, 2),
                            "w": round(w * width / 100, 2),
                            "h": round(h * height / 100, 2),
                            "label": label,
                        }
                    )
            else:
                raise RowProblem(
                    _at(
                        where,
                        M(
                            gettext_noop(
                                "Label Studio regions of type “%(kind)s” cannot be imported"
                            ),
                            kind=kind,
                        ),
                    )
                )
        if self.task_type in (TaskType.TEXT_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION):
            if len(choices) != 1:
                raise RowProblem(_at(where, M(gettext_noop("needs exactly one choice"))))
            return {"label": choices[0]}
        if self.task_type == TaskType.MULTI_LABEL:
            return {"labels": choices}
        if self.task_type == TaskType.TEXT_SPANS:
            return {"spans": spans}
        return {"boxes": boxes}


CHOICE_TYPES = (TaskType.TEXT_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION)


def _label_studio_user(value: Any) -> str | None:
    """Label Studio's `completed_by`: a user id, or an object with one. Never the e-mail an
    export may carry: suggestions name no person."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"label-studio-user-{value}"
    return None


def _at(where: str, why: str) -> M:
    return M(gettext_noop("%(where)s: %(why)s"), where=where, why=why)


def _strings(value: Any, where: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RowProblem(
            _at(where, M(gettext_noop("%(key)s must be a list of label names"), key=key))
        )
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
