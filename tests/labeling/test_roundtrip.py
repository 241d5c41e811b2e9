"""import(export(x)) gives back the same tasks and labels, for every format that carries labels
and that Fairlabel imports (JSON, JSONL, Label Studio), and the same tasks for CSV.

Exported annotations come back as predictions (suggestions): an import never makes up paid work
by people who did not do it. External ids come back from `external_id`."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from labeling.exporting.services import export_to_path
from labeling.models import Annotation, Project, TaskType
from tests.factories import project_factory
from tests.labeling.test_export_support import labeled_project

pytestmark = pytest.mark.django_db

LABELED_FORMATS = ["json", "jsonl", "label_studio"]
EXTENSION = {"json": "json", "jsonl": "jsonl", "label_studio": "json", "csv": "csv"}


def _round_trip(source: Project, fmt: str, tmp_path) -> Project:
    path = tmp_path / f"export-{fmt}.{EXTENSION[fmt]}"
    export_to_path(project=source, fmt=fmt, path=path)
    target = project_factory(
        source.owner, task_type=source.task_type, labels=[lab["value"] for lab in source.labels]
    )
    call_command("import_tasks", str(target.pk), str(path), format=fmt)
    return target


def _tasks(project: Project) -> list[tuple]:
    return [(t.external_id, t.data) for t in project.tasks.order_by("id")]


def _approx(result: dict) -> dict:
    """Boxes pass through percent in Label Studio: compare them to a micro-pixel."""
    if "boxes" in result:
        return {
            "boxes": [
                {k: (round(v, 6) if isinstance(v, float | int) else v) for k, v in box.items()}
                for box in result["boxes"]
            ]
        }
    return result


@pytest.mark.parametrize("task_type", list(TaskType.values))
@pytest.mark.parametrize("fmt", LABELED_FORMATS)
def test_round_trip_keeps_tasks_and_labels(fmt, task_type, tmp_path):
    source = labeled_project(task_type, tasks=3, leave_unlabeled=1)
    target = _round_trip(source, fmt, tmp_path)
    assert _tasks(target) == _tasks(source)
    for before, after in zip(source.tasks.order_by("id"), target.tasks.order_by("id"), strict=True):
        labels = [_approx(a.result) for a in Annotation.objects.filter(task=before).order_by("id")]
        suggested = [_approx(p["result"]) for p in (after.predictions or [])]
        assert suggested == labels, (fmt, task_type, before.external_id)


@pytest.mark.parametrize(
    "task_type",
    [
        TaskType.TEXT_CLASSIFICATION,
        TaskType.MULTI_LABEL,
        TaskType.TEXT_SPANS,
        TaskType.IMAGE_CLASSIFICATION,
    ],
)
def test_csv_round_trip_keeps_the_tasks(task_type, tmp_path):
    # The third sample text is a formula: the export escapes it, the import unescapes it.
    source = labeled_project(task_type, tasks=3, leave_unlabeled=1)
    # Label counts and annotations are export-only columns; the data and ids come back.
    target = _round_trip(source, "csv", tmp_path)
    assert _tasks(target) == _tasks(source)
