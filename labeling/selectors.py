"""Read queries, scoped by role: owners see their own projects, annotators the published ones,
auditors and admins all of them."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum
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
    total = stats["total"] or 0
    finished = stats["finished"] or 0
    return {
        "tasks": total,
        "finished": finished,
        "annotations": stats["annotations"] or 0,
        "annotations_needed": total * project.annotations_per_task,
        "percent": round(100 * finished / total, 1) if total else 0.0,
    }


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
    return str(
        implied_hourly(
            price_per_task=project.price_per_task,
            seconds_per_task=project.estimated_seconds_per_task,
        )
    )


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
    return {"count": stats["count"] or 0, "seconds": str(stats["seconds"] or 0)}


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
