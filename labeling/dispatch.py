"""The dispatcher: the one entry point that decides what an annotator gets next.

Every rule is checked here, from the database, so it holds even when Celery is down. A claim is
one `SELECT … FOR UPDATE SKIP LOCKED` over the partial index `task_dispatch_idx` (open tasks of
a project, fewest free slots first), so concurrent annotators never receive the same slot and
the cost does not grow with the size of the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from fairlabel.errors import DomainError
from labeling.models import Annotation, Assignment, Project, Task, TaskType
from labeling.policies import gates_check, hooks_call
from labeling.results import result_validate

IMAGE_TYPES = {TaskType.IMAGE_CLASSIFICATION, TaskType.IMAGE_BOXES}


def assignment_lifetime() -> timedelta:
    return timedelta(minutes=float(settings.FAIRLABEL_ASSIGNMENT_MINUTES))


def task_categories(*, task: Task, project: Project) -> list[str]:
    return list(project.content_categories if task.categories is None else task.categories)


def task_protect(*, task: Task, project: Project) -> dict[str, bool]:
    """How the page must shield the annotator: sensitive content is hidden until revealed."""
    sensitive = task.is_sensitive
    image = project.task_type in IMAGE_TYPES
    return {"blur": sensitive and image, "greyscale": sensitive and image,
            "hide_text": sensitive and not image, "sensitive": sensitive}


def assignment_next(*, annotator, project: Project, now: datetime | None = None
                    ) -> Assignment | None:
    """The annotator's open assignment, or a newly claimed one, or None when nothing is left.
    Raises DomainError(409) with the refusing rule when a gate says no."""
    now = now or timezone.now()
    restriction = gates_check(annotator=annotator, project=project, now=now)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return _claim(annotator=annotator, project=project, now=now,
                              sensitive_allowed=restriction.sensitive_allowed)
        except IntegrityError:
            # A concurrent request of the same annotator claimed first: return that one.
            continue
    raise DomainError("conflict", "Another request is claiming a task for you; retry.",
                      status=409)


def _claim(*, annotator, project: Project, now: datetime, sensitive_allowed: bool
           ) -> Assignment | None:
    own = (Assignment.objects.select_for_update(of=("self",)).select_related("task")
           .filter(annotator=annotator, project=project, status=Assignment.Status.OPEN).first())
    if own is not None:
        if own.expires_at > now:
            return own
        _release([own], now=now)
    candidates = (
        Task.objects.filter(project=project, slots_free__gt=0)
        .exclude(Exists(Assignment.objects.filter(task=OuterRef("pk"), annotator=annotator)))
        .order_by("slots_free", "id")
    )
    if not sensitive_allowed:
        candidates = candidates.filter(is_sensitive=False)
    task = candidates.select_for_update(skip_locked=True, of=("self",)).first()
    if task is None:
        return None
    Task.objects.filter(pk=task.pk).update(slots_free=F("slots_free") - 1)
    task.slots_free -= 1
    assignment = Assignment.objects.create(
        task=task, project=project, annotator=annotator, status=Assignment.Status.OPEN,
        served_at=now, expires_at=now + assignment_lifetime(), holds_slot=True,
    )
    hooks_call("served", assignment, now)
    return assignment


@dataclass(frozen=True)
class SubmitOutcome:
    annotation: Annotation
    created: bool

    @property
    def is_extra(self) -> bool:
        return self.annotation.is_extra


def annotation_submit(*, annotator, assignment_id: int, result: object,
                      now: datetime | None = None) -> SubmitOutcome:
    """Store the annotation once. Repeating the submit returns the same annotation. A submit
    after expiry takes the slot back if it is still free; otherwise the work is kept as an
    extra annotation (`is_extra`) and never dropped."""
    now = now or timezone.now()
    with transaction.atomic():
        assignment = _own_assignment_locked(annotator=annotator, assignment_id=assignment_id)
        existing = Annotation.objects.filter(assignment=assignment).first()
        if existing is not None:
            return SubmitOutcome(existing, created=False)
        if assignment.status == Assignment.Status.SKIPPED:
            raise DomainError("skipped", "You skipped this task; it cannot be submitted.",
                              status=409)
        project = assignment.project
        cleaned = result_validate(
            task_type=project.task_type, labels=[lab["value"] for lab in project.labels],
            result=result, data=assignment.task.data,
        )
        is_extra = False
        if not assignment.holds_slot:
            # Expired and released: take the slot back only if nobody else holds it.
            taken = Task.objects.filter(pk=assignment.task_id, slots_free__gt=0).update(
                slots_free=F("slots_free") - 1)
            is_extra = taken == 0
        seconds = Decimal(max((now - assignment.served_at).total_seconds(), 0)).quantize(
            Decimal("0.001"))
        annotation = Annotation.objects.create(
            assignment=assignment, task_id=assignment.task_id, project=project,
            annotator=annotator, result=cleaned, seconds=seconds, is_extra=is_extra,
        )
        assignment.status = Assignment.Status.SUBMITTED
        assignment.finished_at = now
        assignment.holds_slot = not is_extra
        assignment.save(update_fields=["status", "finished_at", "holds_slot"])
        if not is_extra:
            Task.objects.filter(pk=assignment.task_id).update(
                annotation_count=F("annotation_count") + 1)
        hooks_call("submitted", annotation, now)
    return SubmitOutcome(annotation, created=True)


def assignment_skip(*, annotator, assignment_id: int, now: datetime | None = None
                    ) -> Assignment:
    """Skipping costs nothing; the task is not shown to this annotator again."""
    now = now or timezone.now()
    with transaction.atomic():
        assignment = _own_assignment_locked(annotator=annotator, assignment_id=assignment_id)
        if assignment.status == Assignment.Status.SKIPPED:
            return assignment
        if assignment.status == Assignment.Status.SUBMITTED:
            raise DomainError("already_submitted", "This task was already submitted.",
                              status=409)
        if assignment.holds_slot:
            Task.objects.filter(pk=assignment.task_id).update(slots_free=F("slots_free") + 1)
        assignment.status = Assignment.Status.SKIPPED
        assignment.finished_at = now
        assignment.holds_slot = False
        assignment.save(update_fields=["status", "finished_at", "holds_slot"])
        hooks_call("skipped", assignment, now)
    return assignment


def _own_assignment_locked(*, annotator, assignment_id: int) -> Assignment:
    assignment = (Assignment.objects.select_for_update(of=("self",))
                  .select_related("project", "task")
                  .filter(pk=assignment_id, annotator=annotator).first())
    if assignment is None:
        raise DomainError("not_found", "No such assignment of yours.", status=404)
    return assignment


def assignments_expire(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Release every open assignment past its deadline; its slot returns to the queue.
    Safe to run twice or concurrently: rows are claimed with SKIP LOCKED."""
    now = now or timezone.now()
    released = 0
    while True:
        with transaction.atomic():
            stale = list(
                Assignment.objects.select_for_update(skip_locked=True)
                .filter(status=Assignment.Status.OPEN, expires_at__lte=now)
                .order_by("pk")[:batch_size]
            )
            if not stale:
                return released
            _release(stale, now=now)
            released += len(stale)


def _release(assignments: list[Assignment], *, now: datetime) -> None:
    """Mark locked open assignments expired and give their slots back, in one transaction."""
    per_task: dict[int, int] = {}
    for assignment in assignments:
        if assignment.holds_slot:
            per_task[assignment.task_id] = per_task.get(assignment.task_id, 0) + 1
    Assignment.objects.filter(pk__in=[a.pk for a in assignments]).update(
        status=Assignment.Status.EXPIRED, holds_slot=False, finished_at=now)
    by_count: dict[int, list[int]] = {}
    for task_id, count in per_task.items():
        by_count.setdefault(count, []).append(task_id)
    for count, task_ids in by_count.items():
        Task.objects.filter(pk__in=sorted(task_ids)).update(slots_free=F("slots_free") + count)
    for assignment in assignments:
        assignment.status = Assignment.Status.EXPIRED
        assignment.holds_slot = False
    hooks_call("expired", assignments, now)
