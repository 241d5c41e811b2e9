"""State changes of projects and tasks. Assignments and annotations live in dispatch.py."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from fairlabel.errors import DomainError
from labeling.categories import effective_mask, mask_of
from labeling.models import Project, TaskType
from labeling.policies import project_change_hooks, publish_checks
from labeling.results import REQUIRED_FIELD, categories_normalize, labels_normalize

EDITABLE_FIELDS = (
    "title",
    "instructions",
    "task_type",
    "labels",
    "annotations_per_task",
    "content_categories",
    "price_per_task",
    "estimated_seconds_per_task",
)


# A price is plain digits with at most 2 decimals and as many integer digits as the column
# holds: no exponent ("1e400"), no NaN or Infinity, no "1_000", nothing PostgreSQL would refuse.
_PRICE_FIELD = Project._meta.get_field("price_per_task")
_PRICE = re.compile(
    rf"\d{{1,{_PRICE_FIELD.max_digits - _PRICE_FIELD.decimal_places}}}"
    rf"(\.\d{{1,{_PRICE_FIELD.decimal_places}}})?",
    re.ASCII,
)
_PRICE_MAX = "9" * (_PRICE_FIELD.max_digits - _PRICE_FIELD.decimal_places) + ".99"


def _price(value: Any) -> Decimal:
    if isinstance(value, float):
        raise DomainError(
            "invalid_price",
            _('Send the price as a decimal string, like "0.10".'),
            field="price_per_task",
        )
    if isinstance(value, Decimal) and value.is_finite():
        value = format(value, "f")  # never the exponent form: Decimal("1E+1") is 10
    elif isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _PRICE.fullmatch(value.strip()):
        raise DomainError(
            "invalid_price",
            _("The price must be a decimal string from 0.00 to %(max)s, with at most 2 decimals.")
            % {"max": _PRICE_MAX},
            field="price_per_task",
        )
    return Decimal(value.strip()).quantize(Decimal("0.01"))


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(fields)
    if "title" in cleaned:
        cleaned["title"] = str(cleaned["title"]).strip()
        if not cleaned["title"]:
            raise DomainError("invalid_title", _("Give the project a title."), field="title")
    if "task_type" in cleaned and cleaned["task_type"] not in TaskType.values:
        raise DomainError(
            "invalid_task_type",
            f"Task type must be one of: {', '.join(TaskType.values)}.",
            field="task_type",
        )
    if "labels" in cleaned:
        cleaned["labels"] = labels_normalize(cleaned["labels"])
    if "content_categories" in cleaned:
        cleaned["content_categories"] = categories_normalize(cleaned["content_categories"])
    if "price_per_task" in cleaned:
        cleaned["price_per_task"] = _price(cleaned["price_per_task"])
    if "annotations_per_task" in cleaned:
        n = cleaned["annotations_per_task"]
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 50:
            raise DomainError(
                "invalid_overlap",
                _("Annotations per task must be 1 to 50."),
                field="annotations_per_task",
            )
    if "estimated_seconds_per_task" in cleaned:
        s = cleaned["estimated_seconds_per_task"]
        if not isinstance(s, int) or isinstance(s, bool) or not 1 <= s <= 86400:
            raise DomainError(
                "invalid_estimate",
                _("Estimated seconds must be 1 to 86400."),
                field="estimated_seconds_per_task",
            )
    return cleaned


def project_create(
    *,
    owner,
    title: str,
    task_type: str,
    labels: list,
    instructions: str = "",
    annotations_per_task: int = 1,
    content_categories: list | None = None,
    price_per_task: Any = "0.00",
    estimated_seconds_per_task: int = 30,
) -> Project:
    fields = _clean(
        {
            "title": title,
            "instructions": instructions,
            "task_type": task_type,
            "labels": labels,
            "annotations_per_task": annotations_per_task,
            "content_categories": content_categories or [],
            "price_per_task": price_per_task,
            "estimated_seconds_per_task": estimated_seconds_per_task,
        }
    )
    with transaction.atomic():
        project = Project(owner=owner, currency=settings.FAIRLABEL_CURRENCY, **fields)
        project.full_clean()
        project.save()
    return project


def project_update(*, project: Project, **changes: Any) -> Project:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError("invalid", f"Cannot change: {', '.join(sorted(unknown))}.")
    fields = _clean(changes)
    with transaction.atomic():
        locked = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
        has_tasks = locked.tasks.exists()
        if "task_type" in fields and fields["task_type"] != locked.task_type and has_tasks:
            raise DomainError(
                "task_type_locked",
                _("The task type cannot change once tasks are imported."),
                field="task_type",
            )
        if "labels" in fields:
            _refuse_removing_used_labels(project=locked, new_labels=fields["labels"])
        old_overlap = locked.annotations_per_task
        old_categories = locked.content_categories
        old_price, old_seconds = locked.price_per_task, locked.estimated_seconds_per_task
        new_overlap = fields.get("annotations_per_task", old_overlap)
        if new_overlap < old_overlap and locked.assignments.filter(status="open").exists():
            # The counter could not go below zero for tasks held by more people than the new
            # overlap, and their release would then hand the task out again.
            raise DomainError(
                "overlap_locked",
                _(
                    "Annotations per task can go down only while nobody holds a task of this "
                    "project: pause it and wait for the open assignments to end."
                ),
                field="annotations_per_task",
            )
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.full_clean()
        if locked.status == Project.Status.PUBLISHED:
            # A published project stays fair: an edit may not take its rate under the floor.
            # (Its funding is the budget's concern: the dispatcher stops when it runs out.)
            for check in publish_checks():
                error = check(project=locked)
                if error is not None and error.code != "not_funded":
                    raise error
        locked.save()
        if (locked.price_per_task, locked.estimated_seconds_per_task) != (old_price, old_seconds):
            for hook in project_change_hooks():
                hook(project=locked, old_price=old_price, old_seconds=old_seconds)
        if new_overlap > old_overlap:
            # Keep the dispatcher's counter true: every task gains the same slots.
            locked.tasks.update(slots_free=F("slots_free") + (new_overlap - old_overlap))
        elif new_overlap < old_overlap:
            # No open assignment: the slots held are exactly the counted annotations.
            locked.tasks.update(slots_free=Greatest(new_overlap - F("annotation_count"), 0))
        new_mask = effective_mask(None, locked.content_categories)
        if new_mask != effective_mask(None, old_categories):
            # Tasks without categories of their own carry the project's: one UPDATE statement
            # (whatever the project's size), inside this transaction, so that no claim sees
            # the project's new categories beside tasks with the old ones.
            locked.tasks.filter(categories__isnull=True).exclude(category_mask=new_mask).update(
                category_mask=new_mask
            )
    return locked


def _refuse_removing_used_labels(*, project: Project, new_labels: list[dict]) -> None:
    """A label that annotations already use cannot be removed (nor renamed): the exports would
    drop its column while the majority still names it, and the work done with it would lose
    its meaning. Labels can always be added."""
    from labeling.models import Annotation
    from labeling.selectors import result_has_label

    kept = {lab["value"] for lab in new_labels}
    removed = [lab["value"] for lab in project.labels if lab["value"] not in kept]
    annotations = Annotation.objects.filter(project=project)
    used = [v for v in removed if annotations.filter(result_has_label(project, v)).exists()]
    if used:
        raise DomainError(
            "labels_in_use",
            _(
                "Annotations already use %(labels)s: a label in use cannot be removed or "
                "renamed. Keep it (you may add others)."
            )
            % {"labels": ", ".join(f"“{v}”" for v in used)},
            field="labels",
            labels=used,
        )


def project_publish(*, project: Project) -> Project:
    with transaction.atomic():
        locked = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
        for check in publish_checks():
            error = check(project=locked)
            if error is not None:
                raise error
        locked.status = Project.Status.PUBLISHED
        locked.published_at = locked.published_at or timezone.now()
        locked.save(update_fields=["status", "published_at", "updated_at"])
    return locked


def project_pause(*, project: Project) -> Project:
    with transaction.atomic():
        locked = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
        if locked.status == Project.Status.PUBLISHED:
            locked.status = Project.Status.PAUSED
            locked.save(update_fields=["status", "updated_at"])
    return locked


def task_row_check(*, project: Project, data: Any) -> str | None:
    """Why a row's data cannot be a task of this project, or None."""
    from fairlabel.messages import Message

    if not isinstance(data, dict) or not data:
        return Message(gettext_noop("the task data must be a non-empty JSON object"))
    field = REQUIRED_FIELD[TaskType(project.task_type)]
    # The task type by its name, as the owner chose it in the form: never its code.
    with translation.override(None):  # the label's msgid, translated when shown
        kind = Message(str(TaskType(project.task_type).label))
    if field not in data:
        return Message(
            gettext_noop("the field “%(field)s” is missing: tasks of type “%(kind)s” need it"),
            field=field,
            kind=kind,
        )
    value = data[field]
    if not isinstance(value, str):
        return Message(
            gettext_noop("the field “%(field)s” must be text (a string in quotes), not %(what)s"),
            field=field,
            what=_json_kind(value),
        )
    if not value:
        return Message(gettext_noop("the field “%(field)s” is empty"), field=field)
    return None


def _json_kind(value: Any):
    from fairlabel.messages import Message

    if isinstance(value, bool):
        return Message(gettext_noop("true/false"))
    if isinstance(value, int | float):
        return Message(gettext_noop("the number %(n)s"), n=value)
    if isinstance(value, list):
        return Message(gettext_noop("a list"))
    if isinstance(value, dict):
        return Message(gettext_noop("an object"))
    return "null"


def tasks_create(*, project: Project, rows: Iterable[dict[str, Any]]) -> int:
    """Create tasks from {"data", "id"?, "categories"?, "predictions"?} rows, all or none,
    through the import path: one set of checks for both (demo data, tests, small callers)."""
    from labeling.importing.loader import tasks_import

    stream = io.BytesIO(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    outcome = tasks_import(project=project, stream=stream, fmt="jsonl")
    if not outcome.ok:
        first = outcome.errors[0]
        raise DomainError(
            "invalid_task", f"Row {first['line']}: {first['message']}.", errors=outcome.errors
        )
    return outcome.imported


def policy_set(*, name: str, value: str | None, changed_by, now=None) -> None:
    """Override one FAIRLABEL_* policy (value None: back to the setting), with its audit row
    (who, when, old, new) in the same transaction."""
    from django.utils import timezone

    from labeling.models import PolicyChange, PolicyOverride
    from labeling.policies import POLICY_NAMES, policy_coerce, policy_value

    if name not in POLICY_NAMES:
        raise DomainError("unknown_policy", f"Unknown policy {name}.", field="name")
    new = None if value in (None, "") else str(policy_coerce(name, value))
    with transaction.atomic():
        old = str(policy_value(name))
        if new is None:
            PolicyOverride.objects.filter(name=name).delete()
        else:
            PolicyOverride.objects.update_or_create(name=name, defaults={"value": new})
        PolicyChange.objects.create(
            name=name,
            old_value=old,
            new_value=str(policy_value(name)),
            changed_by=changed_by,
            changed_at=now or timezone.now(),
        )


def task_flag(*, annotator, assignment_id: int, category: str, now=None):
    """The annotator flags the task of one of its assignments as disturbing: from now on the task
    carries that category for everyone (its own categories become the effective ones plus this
    one). Flagging twice changes nothing."""
    from django.utils import timezone

    from labeling.dispatch import task_categories
    from labeling.models import Assignment, Category, Task, TaskFlag

    if category not in Category.values:
        raise DomainError(
            "invalid_category",
            f"Unknown category. Known: {', '.join(Category.values)}.",
            field="category",
        )
    now = now or timezone.now()
    with transaction.atomic():
        assignment = (
            Assignment.objects.filter(pk=assignment_id, annotator=annotator)
            .select_related("project")
            .first()
        )
        if assignment is None:
            raise DomainError("not_found", "No such assignment of yours.", status=404)
        task = Task.objects.select_for_update(of=("self",), no_key=True).get(pk=assignment.task_id)
        categories = sorted(
            set(task_categories(task=task, project=assignment.project)) | {category}
        )
        if task.categories != categories or task.category_mask != mask_of(categories):
            Task.objects.filter(pk=task.pk).update(
                categories=categories, category_mask=mask_of(categories)
            )
        TaskFlag.objects.get_or_create(
            task=task,
            annotator=annotator,
            category=category,
            defaults={"project_id": assignment.project_id, "created_at": now},
        )
    return categories
