"""Builders shared by the export, round-trip and browser tests: projects of every task type
with real annotations, made through the dispatcher as annotators would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labeling.dispatch import annotation_submit, assignment_next
from labeling.models import Project, TaskType
from labeling.services import project_publish, tasks_create
from tests.factories import project_factory, user_factory

TEXTS = [
    "Ada Lovelace met Charles Babbage in London.",
    "Grace Hopper worked in Arlington.",
    '=HYPERLINK("http://evil") is not a formula here.',
]

DATA: dict[str, Callable[[int], dict[str, Any]]] = {
    TaskType.TEXT_CLASSIFICATION: lambda n: {"text": TEXTS[n % 3], "source": f"s{n}"},
    TaskType.MULTI_LABEL: lambda n: {"text": TEXTS[n % 3]},
    TaskType.TEXT_SPANS: lambda n: {"text": TEXTS[n % 2]},
    TaskType.IMAGE_CLASSIFICATION: lambda n: {"image": f"https://example.org/img/{n}.png"},
    TaskType.IMAGE_BOXES: lambda n: {
        "image": f"https://example.org/img/{n}.png",
        "width": 640,
        "height": 480,
    },
}


def result_for(task_type: str, data: dict[str, Any], annotator_index: int) -> dict[str, Any]:
    """A deterministic result; annotator 2 (the third) disagrees with the first two."""
    odd = annotator_index == 2
    if task_type in (TaskType.TEXT_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION):
        labels = {"text_classification": ("pos", "neg"), "image_classification": ("cat", "dog")}
        return {"label": labels[task_type][1 if odd else 0]}
    if task_type == TaskType.MULTI_LABEL:
        return {"labels": ["sports"] if odd else ["sports", "tech"]}
    if task_type == TaskType.TEXT_SPANS:
        text = data["text"]
        first = text.split()[0] + " " + text.split()[1]
        spans = [{"start": 0, "end": len(first), "label": "PER"}]
        if "London" in text and not odd:
            start = text.index("London")
            spans.append({"start": start, "end": start + 6, "label": "LOC"})
        return {"spans": spans}
    boxes = [{"x": 64, "y": 48, "w": 320, "h": 240, "label": "cat"}]
    if not odd:
        boxes.append({"x": 10.5, "y": 20, "w": 30, "h": 40.25, "label": "dog"})
    return {"boxes": boxes}


def labeled_project(
    task_type: str = TaskType.TEXT_CLASSIFICATION,
    *,
    owner=None,
    tasks: int = 3,
    per_task: int = 3,
    annotators: int = 3,
    leave_unlabeled: int = 0,
    external_ids: bool = True,
) -> Project:
    """A published project whose first `tasks - leave_unlabeled` tasks each got `annotators`
    annotations (the last task stays untouched when leave_unlabeled=1)."""
    project = project_factory(owner, task_type=task_type, annotations_per_task=per_task)
    rows = [
        {"data": DATA[task_type](n), **({"id": f"ext-{n}"} if external_ids else {})}
        for n in range(tasks)
    ]
    tasks_create(project=project, rows=rows)
    project = project_publish(project=project)
    to_label = set(
        project.tasks.order_by("id").values_list("id", flat=True)[: tasks - leave_unlabeled]
    )
    for index in range(annotators):
        person = user_factory("annotator")
        while True:
            assignment = assignment_next(annotator=person, project=project)
            if assignment is None or assignment.task_id not in to_label:
                break
            annotation_submit(
                annotator=person,
                assignment_id=assignment.pk,
                result=result_for(task_type, assignment.task.data, index),
            )
    return project
