"""labeling 0006: every existing task gets its effective categories stored, both ways."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("labeling", "0005_working_time_exposure")]
AFTER = [("labeling", "0006_task_category_mask")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_existing_tasks_get_their_effective_categories_and_back(owner):
    old = _migrate(BEFORE)
    try:
        project_model, task_model = (
            old.get_model("labeling", "Project"),
            old.get_model("labeling", "Task"),
        )
        declared = project_model.objects.create(
            owner_id=owner.pk,
            title="declares",
            task_type="text_classification",
            content_categories=["gore", "violence"],
        )
        plain = project_model.objects.create(
            owner_id=owner.pk, title="plain", task_type="text_classification"
        )
        rows = [
            (declared, None),  # follows the project: violence (1) and gore (2)
            (declared, []),  # marked safe
            (declared, ["hate", "hate"]),  # its own (hate: 16)
            (plain, None),
            (plain, ["sexual"]),  # its own, on a project that declares none (sexual: 4)
        ]
        for project, categories in rows:
            task_model.objects.create(
                project_id=project.pk,
                data={"text": "x"},
                categories=categories,
                is_sensitive=bool(
                    categories if categories is not None else project.content_categories
                ),
                slots_free=1,
            )
        new = _migrate(AFTER)
        masks = list(
            new.get_model("labeling", "Task")
            .objects.order_by("id")
            .values_list("category_mask", flat=True)
        )
        assert masks == [3, 0, 16, 0, 4]
        back = _migrate(BEFORE)
        assert list(
            back.get_model("labeling", "Task")
            .objects.order_by("id")
            .values_list("is_sensitive", flat=True)
        ) == [True, False, True, False, True]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
