"""Factories for every test in one place."""

from __future__ import annotations

import itertools
from typing import Any

import factory

from accounts.roles import Role
from accounts.services import user_create
from labeling.models import Project, TaskType
from labeling.services import project_create, tasks_create

_counter = itertools.count(1)
PASSWORD = "a-good-test-password"


def user_factory(
    role: str = "annotator",
    *,
    username: str | None = None,
    country: str = "KE",
    timezone: str = "UTC",
):
    return user_create(
        username=username or f"{role}{next(_counter)}",
        password=PASSWORD,
        role=Role(role),
        country=country,
        timezone=timezone,
        check_password=False,
    )


LABELS = {
    TaskType.TEXT_CLASSIFICATION: ["pos", "neg", "neutral"],
    TaskType.MULTI_LABEL: ["sports", "politics", "tech"],
    TaskType.TEXT_SPANS: ["PER", "LOC"],
    TaskType.IMAGE_CLASSIFICATION: ["cat", "dog"],
    TaskType.IMAGE_BOXES: ["cat", "dog"],
}


def project_factory(
    owner=None,
    *,
    task_type: str = TaskType.TEXT_CLASSIFICATION,
    tasks: int = 0,
    publish: bool = False,
    fund: str | bool = "1000.00",
    **fields: Any,
) -> Project:
    """A project, funded (`fund`, 1000.00 by default; False: not funded) and, with `publish`,
    published."""
    owner = owner or user_factory("owner")
    params = {
        "title": factory.Faker("sentence").evaluate(None, None, {"locale": None}),
        "task_type": task_type,
        "labels": LABELS[TaskType(task_type)],
        "price_per_task": "0.10",
        "estimated_seconds_per_task": 20,
    }
    params.update(fields)
    project = project_create(owner=owner, **params)
    if tasks:
        tasks_create(
            project=project, rows=[{"data": task_data(task_type, n)} for n in range(tasks)]
        )
    if fund:
        from payments.services import project_fund

        project_fund(project=project, amount=fund)
    if publish:
        from labeling.services import project_publish

        project = project_publish(project=project)
    return project


def task_data(task_type: str, n: int) -> dict[str, Any]:
    if task_type in (TaskType.IMAGE_CLASSIFICATION, TaskType.IMAGE_BOXES):
        return {"image": f"https://example.org/img/{n}.png"}
    return {"text": f"Ada Lovelace met Charles Babbage in London, task {n}."}
