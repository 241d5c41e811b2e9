"""Read queries, scoped by role: owners see their own projects, annotators the published ones,
auditors and admins all of them."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from accounts.roles import Role, role_of
from accounts.selectors import pseudonyms_for
from labeling.dispatch import task_categories, task_protect
from labeling.models import Annotation, Assignment, Project, Task
from labeling.policies import display_preferences, implied_hourly

MILLIS = Decimal("0.001")


def projects_visible_to(user) -> QuerySet[Project]:
    role = role_of(user)
    projects = Project.objects.select_related("owner")
    if role == Role.OWNER:
        return projects.filter(owner=user)
    if role == Role.ANNOTATOR:
        return projects.filter(status=Project.Status.PUBLISHED)
    if role in (Role.AUDITOR, Role.ADMIN):
        return projects
    return projects.none()


def project_get(*, user, project_id: int) -> Project:
    project = projects_visible_to(user).filter(pk=project_id).first()
    if project is None:
        raise Http404
    return project


def project_for_labeling(*, project_id: int) -> Project:
    """A project an annotator may open: published, or paused or closed after it was (its page
    then says so). Drafts stay unknown to annotators."""
    project = Project.objects.exclude(status=Project.Status.DRAFT).filter(pk=project_id).first()
    if project is None:
        raise Http404
    return project


def project_owned(*, user, project_id: int) -> Project:
    """A project the user owns (admins may act on any)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None or (project.owner_id != user.pk and role_of(user) != Role.ADMIN):
        raise Http404
    return project


def project_progress(project: Project) -> dict[str, Any]:
    """Counts over the task_progress_idx index; not on any hot path."""
    stats = project.tasks.aggregate(
        total=Count("id"),
        finished=Count("id", filter=Q(annotation_count__gte=project.annotations_per_task)),
        annotations=Sum("annotation_count"),
    )
    return _progress(
        project,
        total=stats["total"] or 0,
        finished=stats["finished"] or 0,
        annotations=stats["annotations"] or 0,
    )


def project_open_categories(project: Project) -> list[str]:
    """Every category a task still open in this project carries (its import row's, a flag's, or
    the project's): what an annotator may be asked to consent to. One index descent per distinct
    set of categories (a loose scan of task_dispatch_mask_idx), whatever the project's size."""
    from django.db import connection

    from labeling.categories import names_of

    table = Task._meta.db_table
    sql = (
        "WITH RECURSIVE masks(m) AS ("  # noqa: S608
        f"SELECT (SELECT min(category_mask) FROM {table} WHERE project_id = %s AND slots_free > 0) "
        "UNION ALL SELECT (SELECT min(category_mask) FROM "
        f"{table} WHERE project_id = %s AND slots_free > 0 AND category_mask > masks.m) "
        "FROM masks WHERE masks.m IS NOT NULL) SELECT m FROM masks WHERE m IS NOT NULL"
    )
    union = 0
    with connection.cursor() as cursor:
        cursor.execute(sql, [project.pk, project.pk])
        for (mask,) in cursor.fetchall():
            union |= mask
    return names_of(union)


def project_rate(project: Project) -> str:
    """The implied hourly rate as the API sends it (a decimal string)."""
    return str(project_rate_value(project))


def project_rate_value(project: Project) -> Decimal:
    """The implied hourly rate as a Decimal: pages localise it like every other number."""
    return implied_hourly(
        price_per_task=project.price_per_task,
        seconds_per_task=project.estimated_seconds_per_task,
    )


def project_rows(projects: QuerySet[Project] | list[Project]) -> list[dict[str, Any]]:
    """A page of projects with their progress and rate, in two queries whatever the page's
    length (the projects, then one grouped count over their tasks), never one per row."""
    projects = list(projects)
    counts = {
        row["project_id"]: row
        for row in Task.objects.filter(project__in=[p.pk for p in projects])
        .order_by()
        .values("project_id")
        .annotate(
            total=Count("id"),
            finished=Count(
                "id", filter=Q(annotation_count__gte=F("project__annotations_per_task"))
            ),
            annotations=Sum("annotation_count"),
        )
    }
    rows = []
    for project in projects:
        row = counts.get(project.pk, {})
        rows.append(
            {
                "project": project,
                "progress": _progress(
                    project,
                    total=row.get("total") or 0,
                    finished=row.get("finished") or 0,
                    annotations=row.get("annotations") or 0,
                ),
                "rate": project_rate_value(project),
            }
        )
    return rows


def _progress(project: Project, *, total: int, finished: int, annotations: int) -> dict[str, Any]:
    needed = total * project.annotations_per_task
    return {
        "tasks": total,
        "finished": finished,
        "annotations": annotations,
        "annotations_needed": needed,
        "percent": round(100 * finished / total, 1) if total else 0.0,
        # With several annotations per task, tasks finish late: the work done so far is the
        # share of the annotations needed that are in.
        "annotations_percent": round(100 * annotations / needed, 1) if needed else 0.0,
    }


def project_annotators(project: Project) -> list[dict[str, Any]]:
    """Per pseudonym: tasks submitted, skipped, expired, and active time on this project (from
    heartbeats, every assignment counted: reading and skipping a task is work). Owners never
    see names, nor anything finer than these totals."""
    rows = list(
        Assignment.objects.filter(project=project)
        .values("annotator_id")
        .annotate(
            submitted=Count("id", filter=Q(status=Assignment.Status.SUBMITTED)),
            skipped=Count("id", filter=Q(status=Assignment.Status.SKIPPED)),
            expired=Count("id", filter=Q(status=Assignment.Status.EXPIRED)),
            active=Sum("active_seconds"),
        )
        .order_by("-submitted", "annotator_id")
    )
    names = pseudonyms_for([row["annotator_id"] for row in rows])
    result = []
    for row in rows:
        seconds = Decimal(row["active"] or 0).quantize(MILLIS)
        result.append(
            {
                "pseudonym": names[row["annotator_id"]],
                "submitted": row["submitted"],
                "skipped": row["skipped"],
                "expired": row["expired"],
                "seconds": str(seconds),
                "hours": str((seconds / 3600).quantize(Decimal("0.01"))),
            }
        )
    return result


def task_annotations(task: Task) -> list[dict[str, Any]]:
    annotations = list(task.annotations.all())
    names = pseudonyms_for(sorted({a.annotator_id for a in annotations}))
    return [
        {
            "id": a.pk,
            "annotator": names[a.annotator_id],
            "result": a.result,
            "seconds": str(a.seconds),
            "created_at": a.created_at.isoformat(),
            "is_extra": a.is_extra,
        }
        for a in annotations
    ]


def suggestion_of(task: Task) -> dict[str, Any] | None:
    """The first imported prediction, as a result the annotator can accept or change.
    Task.predictions is a list of {"result": <result of the task type>, "score"?, "model"?}."""
    predictions = task.predictions
    if isinstance(predictions, list) and predictions and isinstance(predictions[0], dict):
        result = predictions[0].get("result")
        return result if isinstance(result, dict) else None
    return None


def assignment_payload(assignment: Assignment, project: Project) -> dict[str, Any]:
    """The next-task shape clients rely on (DESIGN.md), plus the suggestion."""
    task = assignment.task
    protect: dict[str, Any] = task_protect(task=task, project=project)
    if protect["blur"]:
        # The annotator's own blur strength, so the first paint is already blurred its way.
        protect.update(display_preferences(user_id=assignment.annotator_id))
    return {
        "assignment": assignment.pk,
        "task": {"id": task.pk, "data": task.data, "suggestion": suggestion_of(task)},
        "categories": task_categories(task=task, project=project),
        "protect": protect,
        "expires_at": assignment.expires_at.isoformat(),
    }


def annotator_today(*, annotator, tz_name: str = "UTC") -> dict[str, Any]:
    """Today's submitted count and seconds in the annotator's own day."""
    try:
        tz = ZoneInfo(tz_name)
    except Exception:
        tz = ZoneInfo("UTC")
    start = datetime.combine(timezone.now().astimezone(tz).date(), time.min, tzinfo=tz)
    stats = Annotation.objects.filter(annotator=annotator, created_at__gte=start).aggregate(
        count=Count("id"), seconds=Sum("seconds")
    )
    # Quantized: SQLite sums decimals through floats ("19.6620000000000").
    seconds = Decimal(stats["seconds"] or 0).quantize(MILLIS)
    return {"count": stats["count"] or 0, "seconds": str(seconds)}


def annotator_started(*, annotator, project: Project) -> bool:
    """Whether the annotator was ever served a task of this project."""
    return Assignment.objects.filter(annotator=annotator, project=project).exists()


def task_flags(task: Task) -> list[dict[str, Any]]:
    """Who flagged the task as disturbing (by pseudonym), with what, when."""
    from labeling.models import TaskFlag

    flags = list(TaskFlag.objects.filter(task=task).order_by("created_at", "id"))
    names = pseudonyms_for(sorted({f.annotator_id for f in flags}))
    return [
        {
            "annotator": names[f.annotator_id],
            "category": f.category,
            "created_at": f.created_at.isoformat(),
        }
        for f in flags
    ]


TASK_SORTS = {
    "id": ("id",),
    "-id": ("-id",),
    "annotations": ("annotation_count", "id"),
    "-annotations": ("-annotation_count", "id"),
}
TASK_STATES = ("new", "started", "finished")


def task_list(
    *,
    project: Project,
    state: str = "",
    label: str = "",
    annotator: str = "",
    has_suggestion: bool = False,
    flagged: bool = False,
    search: str = "",
    sort: str = "id",
) -> QuerySet[Task]:
    """An owner's view of a project's tasks, filtered and sorted in the database: a page of it
    costs the same at 100 tasks and at 100,000 (one query for the rows, one for the count).
    `annotator` is a pseudonym; `label` a label value found in any annotation's result."""
    from django.db.models import Exists, OuterRef, TextField
    from django.db.models.functions import Cast

    from accounts.models import Profile
    from labeling.models import TaskFlag

    tasks = project.tasks.only(
        "id",
        "project_id",
        "external_id",
        "data",
        "annotation_count",
        "category_mask",
        "predictions",
        "created_at",
    )
    needed = project.annotations_per_task
    if state == "new":
        tasks = tasks.filter(annotation_count=0)
    elif state == "started":
        tasks = tasks.filter(annotation_count__gt=0, annotation_count__lt=needed)
    elif state == "finished":
        tasks = tasks.filter(annotation_count__gte=needed)
    annotations = Annotation.objects.filter(task=OuterRef("pk"))
    if label:
        tasks = tasks.filter(Exists(annotations.filter(result_has_label(project, label))))
    if annotator:
        user_id = (
            Profile.objects.filter(pseudonym=annotator.strip())
            .values_list("user_id", flat=True)
            .first()
        )
        tasks = tasks.filter(Exists(annotations.filter(annotator_id=user_id)))
    if has_suggestion:
        tasks = tasks.filter(predictions__isnull=False).exclude(predictions=[])
    if flagged:
        tasks = tasks.filter(Exists(TaskFlag.objects.filter(task=OuterRef("pk"))))
    if search:
        tasks = tasks.annotate(data_text=Cast("data", TextField())).filter(
            Q(data_text__icontains=search) | Q(external_id__icontains=search)
        )
    return tasks.order_by(*TASK_SORTS.get(sort, TASK_SORTS["id"]))


def result_has_label(project: Project, label: str) -> Q:
    """Annotations whose result names `label`, in the shape of the project's task type."""
    from django.db import connection

    from labeling.models import TaskType

    kind = project.task_type
    if kind in (TaskType.TEXT_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION):
        return Q(result__label=label)
    key = {TaskType.MULTI_LABEL: "labels", TaskType.TEXT_SPANS: "spans"}.get(kind, "boxes")
    item = label if kind == TaskType.MULTI_LABEL else {"label": label}
    if connection.vendor == "postgresql":
        return Q(**{f"result__{key}__contains": [item]})
    # SQLite has no JSON containment: match the stored text (Django writes ", " and ": ").
    import json

    needle = json.dumps(item)[1:-1] if kind != TaskType.MULTI_LABEL else json.dumps(item)
    return Q(result__icontains=needle)
