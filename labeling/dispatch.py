"""The dispatcher: the one entry point that decides what an annotator gets next.

Every rule is checked here, from the database, so it holds even when Celery is down. A claim is
one `SELECT … FOR UPDATE SKIP LOCKED` over the partial index `task_dispatch_idx` (open tasks of
a project, fewest free slots first), so concurrent annotators never receive the same slot and
the cost does not grow with the size of the project. A restricted annotator's claim walks
`task_dispatch_mask_idx` instead, once per set of categories it may take (on PostgreSQL in one
statement: a LATERAL walk per set, the first task of each, the first of those), so it never
reads past the tasks it may not take, however many they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Exists, F, Func, OuterRef, QuerySet, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from fairlabel.errors import DomainError
from labeling.categories import allowed_masks, names_of
from labeling.models import Annotation, Assignment, Project, Task, TaskType
from labeling.policies import (
    DispatchContext,
    Refusal,
    Refused,
    Restriction,
    gates_check,
    hooks_call,
    policy_values,
)
from labeling.results import result_validate

IMAGE_TYPES = {TaskType.IMAGE_CLASSIFICATION, TaskType.IMAGE_BOXES}


def assignment_lifetime() -> timedelta:
    # Decimal minutes (fractions allowed) to whole microseconds, without a float.
    return timedelta(microseconds=int(settings.FAIRLABEL_ASSIGNMENT_MINUTES * 60_000_000))


def task_categories(*, task: Task, project: Project | None = None) -> list[str]:
    """The task's effective categories, as stored (Task.category_mask)."""
    return names_of(task.category_mask)


def task_protect(*, task: Task, project: Project) -> dict[str, bool]:
    """How the page must shield the annotator: sensitive content is hidden until revealed."""
    sensitive = task.is_sensitive
    image = project.task_type in IMAGE_TYPES
    return {
        "blur": sensitive and image,
        "greyscale": sensitive and image,
        "hide_text": sensitive and not image,
        "sensitive": sensitive,
    }


# How many entries at the head of the queue the preferred claim looks at. Wider than the number
# of claims in flight at once (their rows are locked and skipped), narrow enough that walking
# it costs well under a millisecond whatever the annotator did before.
HEAD_WINDOW = 128
SMALLINT_MAX = 32767
BIGINT_MAX = 2**63 - 1


def dispatch_context(
    *, annotator, project: Project, now: datetime, held: Assignment | None = None, find_held=True
) -> DispatchContext:
    """The one context every gate and hook of this request reads."""
    if find_held:
        held = (
            Assignment.objects.select_related("task")
            .filter(annotator=annotator, project=project, status=Assignment.Status.OPEN)
            .first()
        )
    return DispatchContext(
        annotator=annotator, project=project, now=now, held=held, policies=policy_values()
    )


def assignment_next(
    *, annotator, project: Project, now: datetime | None = None
) -> Assignment | None:
    """The annotator's open assignment, or a newly claimed one, or None when nothing is left.
    Raises Refused (409) with the refusing rule when a gate or a hook says no.

    A refusal covers the assignment already held: it is released, not handed back. A
    restriction that no longer allows the held task releases it too. When nothing is left under
    a restriction while other tasks remain, the restriction's refusal is the answer."""
    now = now or timezone.now()
    context = dispatch_context(annotator=annotator, project=project, now=now)
    try:
        return _next(context)
    except Refused as refused:
        # The claim's transaction is rolled back; what the hooks record of the refusal (the
        # cool-down waited out as a paid break) commits on its own.
        with transaction.atomic():
            hooks_call("refused", context=context, refusal=refused.refusal, now=now)
        raise


def _next(context: DispatchContext) -> Assignment | None:
    annotator, project, now, held = context.annotator, context.project, context.now, context.held
    try:
        restriction = gates_check(context)
    except Refused as refused:
        if held is not None:
            assignment_release(assignment_id=held.pk, refusal=refused.refusal, now=now)
        raise
    if held is not None:
        if held.expires_at > now and restriction.allows(
            task_categories(task=held.task, project=project)
        ):
            return held
        expired = held.expires_at <= now
        reason = _EXPIRED if expired else (restriction.refusal or _RESTRICTED)
        assignment_release(assignment_id=held.pk, refusal=reason, now=now)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                assignment = _claim(
                    annotator=annotator,
                    project=project,
                    now=now,
                    restriction=restriction,
                    context=context,
                )
                if assignment is None and restriction.narrows:
                    _refuse_if_others_remain(
                        annotator=annotator, project=project, restriction=restriction
                    )
                return assignment
        except IntegrityError as exc:
            if not _holds_open_conflict(exc):
                raise
        except _HoldsOpenAssignment:
            pass
        except _ClaimAgain:
            continue
        # A concurrent request of the same annotator claimed first: return that one, or release
        # it if it expired and claim again.
        with transaction.atomic():
            own = _own_open_locked(annotator=annotator, project=project)
            if own is not None and own.expires_at > now:
                return own
            if own is not None:
                _release([own], now=now)
    raise DomainError("conflict", "Another request is claiming a task for you; retry.", status=409)


# Released because its deadline passed: not a rule's refusal, the hooks see it as expiry.
_EXPIRED = Refusal(code="expired", detail="The assignment expired.", rule="assignment-expiry")
_OWN_OPEN_CONSTRAINTS = ("assignment_one_open_per_project", "assignment_once_per_annotator")


def _holds_open_conflict(exc: IntegrityError) -> bool:
    """Whether the insert hit the annotator's own open claim (or a concurrent claim of the same
    task by the same annotator): only these mean "already holds a task". Any other integrity
    error (a budget's or a cap's check) is not swallowed."""
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name is not None:
        return name in _OWN_OPEN_CONSTRAINTS
    text = str(exc)
    # SQLite names the columns, not the constraint.
    return any(
        cols in text
        for cols in (
            f"{_A}.annotator_id, {_A}.project_id",
            f"{_A}.task_id, {_A}.annotator_id",
        )
    )


def _refuse_if_others_remain(*, annotator, project: Project, restriction: Restriction) -> None:
    """Nothing is left under the restriction: if tasks remain without it, answer its refusal
    (409 with until), not 204 "nothing left". A task the restriction allows after all was
    locked by a concurrent claim a moment ago: claim again instead of refusing."""
    for sql, params in claim_statements(
        annotator_id=annotator.pk, project=project, restriction=Restriction()
    ):
        found = next(iter(Task.objects.raw(sql, params)), None)
        if found is None:
            continue
        if restriction.allows(task_categories(task=found, project=project)):
            raise _ClaimAgain
        raise (restriction.refusal or _RESTRICTED).as_error()


class _ClaimAgain(Exception):
    """A task the restriction allows freed up during the claim: try once more."""


_RESTRICTED = Refusal(
    code="restricted",
    detail="No task you may take now is left in this project; others remain for later.",
    rule="project-open",
)


def assignment_release(*, assignment_id: int, refusal: Refusal, now: datetime) -> None:
    """Give the held slot back because a rule refused (or the deadline passed)."""
    with transaction.atomic():
        locked = list(
            Assignment.objects.select_for_update(of=("self",)).filter(
                pk=assignment_id, status=Assignment.Status.OPEN
            )
        )
        if locked:
            if refusal is _EXPIRED:
                _release(locked, now=now)
            else:
                _release(locked, now=now, refusal=refusal)


def assignment_touch(
    *,
    annotator,
    assignment_id: int | None,
    now: datetime | None = None,
    policies: dict | None = None,
) -> Assignment | None:
    """A heartbeat on a held task: count the active time since the last sign of life (unless
    idle) and keep the assignment alive. Returns the open assignment (annotated with its task's
    `task_category_mask`), or None. Joins the caller's transaction."""
    now = now or timezone.now()
    policies = policies if policies is not None else policy_values()
    with transaction.atomic(savepoint=False):
        query = (
            Assignment.objects.select_for_update(of=("self",))
            .filter(annotator=annotator, status=Assignment.Status.OPEN)
            .annotate(task_category_mask=F("task__category_mask"))
        )
        if assignment_id is not None:
            query = query.filter(pk=assignment_id)
        else:
            query = query.order_by("-served_at")
        assignment = query.first()
        if assignment is None:
            return None
        assignment.active_seconds = _active_after(assignment, now, policies)
        assignment.last_active_at = max(now, assignment.last_active_at or now)
        assignment.expires_at = max(assignment.expires_at, now + assignment_lifetime())
        Assignment.objects.filter(pk=assignment.pk).update(
            active_seconds=assignment.active_seconds,
            last_active_at=assignment.last_active_at,
            expires_at=assignment.expires_at,
        )
    return assignment


def _active_after(assignment: Assignment, now: datetime, policies: dict) -> Decimal:
    """The assignment's active seconds, counting the gap up to `now` unless it was idle."""
    active = assignment.active_seconds or Decimal("0")
    last = assignment.last_active_at
    if last is None or now <= last:
        return active
    gap = _seconds_between(last, now)
    if gap > Decimal(policies["FAIRLABEL_IDLE_SECONDS"]):
        return active
    return active + gap


class _HoldsOpenAssignment(Exception):
    """The claim found nothing new while the annotator holds an open assignment."""


def _own_open_locked(*, annotator, project: Project) -> Assignment | None:
    return (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("task")
        .filter(annotator=annotator, project=project, status=Assignment.Status.OPEN)
        .first()
    )


def claim_querysets(
    *, annotator, project: Project, restriction: Restriction | None = None, group=None
) -> list[QuerySet[Task]]:
    """The claim queries, tried in order until one yields a task; each walks task_dispatch_idx
    (unrestricted) or task_dispatch_mask_idx (one set of categories: `group`, a mask or an
    expression of one, or the only set a restriction leaves, such as 0, safe tasks only).

    1. The head of the queue: the first HEAD_WINDOW open tasks (fewest free slots, then oldest),
       minus those this annotator already had. This serves nearly every request, and its cost
       is bounded by the window whatever the annotator did before.
    2. (overlap > 1) Untouched tasks, with every slot free. An annotator who worked alone or
       faster than the others leaves many tasks it annotated with slots still free, and they
       sort first; a plain anti-join walk would scan past all of them on every call (its cost
       grew with the annotator's history: quadratic over a session). Untouched tasks hold none
       of its submitted work, so this walk meets at most the tasks it skipped or let expire.
    3. Everything else that is open: partly done tasks beyond the head that this annotator has
       not had. Reached only near the end of a project, and the only path whose cost can grow
       (with the number of tasks the annotator did that are still open, not with the project).

    A restriction that leaves several sets is a filter here (`category_mask IN (...)`); on
    PostgreSQL the dispatcher runs these queries once per set instead (claim_statements)."""
    open_tasks = Task.objects.filter(project=project, slots_free__gt=0)
    masks = _masks_of(restriction or Restriction())
    if group is not None:
        open_tasks = open_tasks.filter(category_mask=group)
    elif masks is not None:
        open_tasks = (
            open_tasks.filter(category_mask=masks[0])
            if len(masks) == 1
            else open_tasks.filter(category_mask__in=masks)
        )
    unseen = open_tasks.exclude(
        Exists(Assignment.objects.filter(task=OuterRef("pk"), annotator=annotator))
    )
    # The key (slots_free, id) of the HEAD_WINDOW-th open task bounds the first walk; with
    # fewer open tasks there is no bound. A row comparison is a stop key of the btree scan,
    # so the walk ends there even when nothing in the window is left for this annotator.
    last_of_head = open_tasks.order_by("slots_free", "id")[HEAD_WINDOW - 1 : HEAD_WINDOW]
    in_head = _KeyAtMost(
        F("slots_free"),
        F("id"),
        Coalesce(Subquery(last_of_head.values("slots_free")), Value(SMALLINT_MAX)),
        Coalesce(Subquery(last_of_head.values("id")), Value(BIGINT_MAX)),
    )
    overlap = project.annotations_per_task
    candidates = [unseen.filter(in_head)]
    if overlap > 1:
        candidates += [
            unseen.filter(slots_free__gte=overlap),
            unseen.filter(slots_free__lt=overlap),
        ]
    else:
        candidates.append(unseen)
    # FOR NO KEY UPDATE: the claim changes no key, so a concurrent submit's foreign-key check
    # on this task (KEY SHARE) does not wait for it.
    return [
        qs.order_by("slots_free", "id").select_for_update(
            skip_locked=True, of=("self",), no_key=True
        )
        for qs in candidates
    ]


def _masks_of(restriction: Restriction) -> tuple[int, ...] | None:
    """The category masks a restriction leaves (None: no restriction; (0,): safe tasks only)."""
    if restriction.safe_only:
        return (0,)
    if not restriction.excluded_categories:
        return None
    return allowed_masks(restriction.excluded_categories)


# Stand-ins for the two ids that vary between calls, so that the claim statements are compiled
# once per shape and not on every call (compiling them cost more than running them).
_PROJECT_MARK = -918_273_645
_ANNOTATOR_MARK = -564_738_291
# The set of categories walked by each LATERAL branch of a restricted claim on PostgreSQL.
_GROUP = RawSQL("allowed.mask", (), output_field=Task._meta.get_field("category_mask"))


@lru_cache(maxsize=256)
def _compiled_claims(
    vendor: str, overlap: int, excluded: tuple[str, ...], safe_only: bool
) -> tuple[tuple[str, tuple[object, ...]], ...]:
    """The SQL of claim_querysets() (first row of each), with the marks in its params. On
    PostgreSQL, a restriction that leaves several sets of categories walks each set's part of
    task_dispatch_mask_idx in a LATERAL subquery (an index descent each, stopping at its first
    unlocked task) and takes the first of those: the cost is the number of sets, never the
    number of tasks the annotator may not take."""
    from django.contrib.auth import get_user_model

    project = Project(pk=_PROJECT_MARK, annotations_per_task=overlap)
    annotator = get_user_model()(pk=_ANNOTATOR_MARK)
    restriction = Restriction(excluded_categories=frozenset(excluded), safe_only=safe_only)
    masks = _masks_of(restriction)
    lateral = vendor == "postgresql" and masks is not None and len(masks) > 1
    compiled = []
    for queryset in claim_querysets(
        annotator=annotator,
        project=project,
        restriction=restriction,
        group=_GROUP if lateral else None,
    ):
        sql, params = queryset[:1].query.get_compiler(connection=connection).as_sql()
        if lateral:
            sql = (
                "SELECT claimed.* FROM unnest(%s::smallint[]) AS allowed(mask) "  # noqa: S608
                f"CROSS JOIN LATERAL ({sql}) AS claimed "
                "ORDER BY claimed.slots_free, claimed.id LIMIT 1"
            )
            params = (list(masks), *params)
        compiled.append((sql, tuple(params)))
    return tuple(compiled)


def claim_statements(
    *, annotator_id: int, project: Project, restriction: Restriction
) -> Iterator[tuple[str, list[object]]]:
    """The SQL the claim runs, in order, with its parameters."""
    marks = {_PROJECT_MARK: project.pk, _ANNOTATOR_MARK: annotator_id}
    excluded = tuple(sorted(restriction.excluded_categories))
    for sql, params in _compiled_claims(
        connection.vendor, project.annotations_per_task, excluded, restriction.safe_only
    ):
        yield sql, [marks.get(p, p) if isinstance(p, int) else p for p in params]


class _KeyAtMost(Func):
    """`(a, b) <= (c, d)`: a row comparison, which PostgreSQL uses as a btree stop key (an OR
    of column comparisons would only filter rows after they were read). SQLite has it too."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        parts = [compiler.compile(expression) for expression in self.get_source_expressions()]
        (a, b, c, d), params = [sql for sql, _ in parts], [p for _, ps in parts for p in ps]
        return f"({a}, {b}) <= ({c}, {d})", params


def _claim(
    *,
    annotator,
    project: Project,
    now: datetime,
    restriction: Restriction,
    context: DispatchContext,
) -> Assignment | None:
    task = None
    for sql, params in claim_statements(
        annotator_id=annotator.pk, project=project, restriction=restriction
    ):
        task = next(iter(Task.objects.raw(sql, params)), None)
        if task is not None:
            break
    if task is None:
        if Assignment.objects.filter(
            annotator=annotator, project=project, status=Assignment.Status.OPEN
        ).exists():
            # Nothing new, but the annotator still holds one: let the caller return it.
            raise _HoldsOpenAssignment
        return None
    _execute(_TAKE_SLOT, [task.pk])
    task.slots_free -= 1
    assignment = Assignment(
        task=task,
        project=project,
        annotator=annotator,
        status=Assignment.Status.OPEN,
        served_at=now,
        expires_at=now + assignment_lifetime(),
        holds_slot=True,
        active_seconds=Decimal("0"),
        last_active_at=now,
    )
    _insert(
        assignment,
        (
            "task_id",
            "project_id",
            "annotator_id",
            "status",
            "served_at",
            "expires_at",
            "holds_slot",
            "active_seconds",
            "last_active_at",
        ),
    )
    hooks_call("served", assignment=assignment, context=context, now=now)
    return assignment


def _seconds_between(start: datetime, end: datetime) -> Decimal:
    """Exact to the millisecond, through integers: never through a float."""
    elapsed = max(end - start, timedelta(0))
    micros = (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds
    return (Decimal(micros) / 1_000_000).quantize(Decimal("0.001"))


@dataclass(frozen=True)
class SubmitOutcome:
    annotation: Annotation
    created: bool

    @property
    def is_extra(self) -> bool:
        return self.annotation.is_extra


def annotation_submit(
    *,
    annotator,
    assignment_id: int,
    result: object,
    now: datetime | None = None,
    image_size: tuple[int, int] | None = None,
) -> SubmitOutcome:
    """Store the annotation once. Repeating the submit returns the same annotation. A submit
    after expiry takes the slot back if it is still free; otherwise the work is kept as an
    extra annotation (`is_extra`) and never dropped. `image_size`, the (width, height) in
    pixels the annotator's browser read from an image task's image, is kept in the task's
    data when the data does not give it yet: box exports need it."""
    now = now or timezone.now()
    with transaction.atomic():
        assignment = _own_assignment_locked(annotator=annotator, assignment_id=assignment_id)
        if assignment.status == Assignment.Status.SUBMITTED:
            # Submitted and annotated in one transaction, so the status says whether to look.
            return SubmitOutcome(Annotation.objects.get(assignment=assignment), created=False)
        if assignment.status == Assignment.Status.SKIPPED:
            raise DomainError(
                "skipped", "You skipped this task; it cannot be submitted.", status=409
            )
        project = assignment.project
        cleaned = result_validate(
            task_type=project.task_type,
            labels=[lab["value"] for lab in project.labels],
            result=result,
            data=assignment.task.data,
        )
        is_extra = False
        if not assignment.holds_slot:
            # Expired and released: take the slot back only if nobody else holds it.
            is_extra = _execute(_TAKE_SLOT, [assignment.task_id]) == 0
        context = dispatch_context(
            annotator=annotator, project=project, now=now, held=assignment, find_held=False
        )
        seconds = _active_after(assignment, now, context.policies)
        annotation = Annotation(
            assignment=assignment,
            task_id=assignment.task_id,
            project=project,
            annotator=annotator,
            result=cleaned,
            seconds=seconds,
            is_extra=is_extra,
            created_at=now,
        )
        _insert(
            annotation,
            (
                "assignment_id",
                "task_id",
                "project_id",
                "annotator_id",
                "result",
                "seconds",
                "is_extra",
                "created_at",
            ),
        )
        _finish(
            assignment,
            status=Assignment.Status.SUBMITTED,
            now=now,
            holds_slot=not is_extra,
            active_seconds=seconds,
        )
        if not is_extra:
            _execute(_COUNT_ANNOTATION, [assignment.task_id])
        if image_size is not None:
            _image_size_keep(assignment.task, project, image_size)
        hooks_call(
            "submitted", assignment=assignment, annotation=annotation, context=context, now=now
        )
    return SubmitOutcome(annotation, created=True)


def _image_size_keep(task: Task, project: Project, size: tuple[int, int]) -> None:
    """The image's pixel size, read where it is first opened, joins the data that lacks it."""
    data = task.data
    if project.task_type not in (TaskType.IMAGE_CLASSIFICATION, TaskType.IMAGE_BOXES):
        return
    if not isinstance(data, dict) or "width" in data or "height" in data:
        return
    Task.objects.filter(pk=task.pk).update(data={**data, "width": size[0], "height": size[1]})


def assignment_skip(*, annotator, assignment_id: int, now: datetime | None = None) -> Assignment:
    """Skipping costs nothing; the task is not shown to this annotator again."""
    now = now or timezone.now()
    with transaction.atomic():
        assignment = _own_assignment_locked(annotator=annotator, assignment_id=assignment_id)
        if assignment.status == Assignment.Status.SKIPPED:
            return assignment
        if assignment.status == Assignment.Status.SUBMITTED:
            raise DomainError("already_submitted", "This task was already submitted.", status=409)
        if assignment.holds_slot:
            _execute(_GIVE_SLOT, [assignment.task_id])
        context = dispatch_context(
            annotator=annotator,
            project=assignment.project,
            now=now,
            held=assignment,
            find_held=False,
        )
        _finish(
            assignment,
            status=Assignment.Status.SKIPPED,
            now=now,
            holds_slot=False,
            active_seconds=_active_after(assignment, now, context.policies),
        )
        hooks_call("skipped", assignment=assignment, context=context, now=now)
    return assignment


def _own_assignment_locked(*, annotator, assignment_id: int) -> Assignment:
    """The caller's assignment, locked, with its project and its task's data loaded."""
    assignment = _raw_one(Assignment, _lock_sql(), [assignment_id, annotator.pk])
    if assignment is None:
        raise DomainError("not_found", "No such assignment of yours.", status=404)
    assignment.project = _raw_one(Project, _PROJECT_SQL, [assignment.project_id])
    assignment.task = _raw_one(Task, _TASK_SQL, [assignment.task_id])
    return assignment


# The hot path's small statements, written out: building them through the ORM on every call
# cost more than running them (next + submit is the busiest path of the application).
_A, _P, _T = Assignment._meta.db_table, Project._meta.db_table, Task._meta.db_table
_TAKE_SLOT = f"UPDATE {_T} SET slots_free = slots_free - 1 WHERE id = %s AND slots_free > 0"  # noqa: S608
_GIVE_SLOT = f"UPDATE {_T} SET slots_free = slots_free + 1 WHERE id = %s"  # noqa: S608
_GIVE_SLOTS = f"UPDATE {_T} SET slots_free = slots_free + %s WHERE id = %s"  # noqa: S608
_COUNT_ANNOTATION = f"UPDATE {_T} SET annotation_count = annotation_count + 1 WHERE id = %s"  # noqa: S608
_FINISH = (
    f"UPDATE {_A} SET status = %s, finished_at = %s, holds_slot = %s, "  # noqa: S608
    "active_seconds = %s, last_active_at = %s WHERE id = %s"
)
# The project without its instructions (long Markdown, not needed to validate a result).
_PROJECT_SQL = "SELECT {} FROM {} WHERE id = %s".format(  # noqa: S608
    ", ".join(f.column for f in Project._meta.concrete_fields if f.name != "instructions"), _P
)
_TASK_SQL = f"SELECT * FROM {_T} WHERE id = %s"  # noqa: S608


def _lock_sql() -> str:
    sql = f"SELECT * FROM {_A} WHERE id = %s AND annotator_id = %s"  # noqa: S608
    # SQLite has no row locks: its write transactions are serialised (transaction_mode).
    return sql + " FOR NO KEY UPDATE" if connection.vendor == "postgresql" else sql


def _raw_one(model, sql: str, params: list[object]):
    return next(iter(model.objects.raw(sql, params)), None)


def _execute(sql: str, params: list[object]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _insert(instance, attnames: tuple[str, ...]) -> None:
    """INSERT ... RETURNING id through each field's own database preparation."""
    meta = instance._meta
    fields = [meta.get_field(name) for name in attnames]  # get_field knows attnames too
    values = [
        field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields
    ]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {meta.db_table} ({columns}) VALUES ({marks})"  # noqa: S608
    returning = connection.features.can_return_columns_from_insert
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING id" if returning else sql, values)
        instance.pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    instance._state.adding = False
    instance._state.db = connection.alias


def _finish(
    assignment: Assignment,
    *,
    status: str,
    now: datetime,
    holds_slot: bool,
    active_seconds: Decimal,
) -> None:
    stamp = connection.ops.adapt_datetimefield_value(now)
    active = connection.ops.adapt_decimalfield_value(active_seconds, 12, 3)
    _execute(_FINISH, [status, stamp, holds_slot, active, stamp, assignment.pk])
    assignment.status, assignment.finished_at, assignment.holds_slot = status, now, holds_slot
    assignment.active_seconds, assignment.last_active_at = active_seconds, now


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


def _release(
    assignments: list[Assignment], *, now: datetime, refusal: Refusal | None = None
) -> None:
    """Mark locked open assignments expired and give their slots back, in one transaction.
    With a refusal, a rule released the held assignment: the hooks see `released`."""
    per_task: dict[int, int] = {}
    for assignment in assignments:
        if assignment.holds_slot:
            per_task[assignment.task_id] = per_task.get(assignment.task_id, 0) + 1
    Assignment.objects.filter(pk__in=[a.pk for a in assignments]).update(
        status=Assignment.Status.EXPIRED, holds_slot=False, finished_at=now
    )
    # One task at a time in pk order: two concurrent releases never lock tasks crosswise.
    for task_id in sorted(per_task):
        _execute(_GIVE_SLOTS, [per_task[task_id], task_id])
    for assignment in assignments:
        assignment.status = Assignment.Status.EXPIRED
        assignment.holds_slot = False
    if refusal is None:
        hooks_call("expired", assignments=assignments, now=now)
    else:
        for assignment in assignments:
            hooks_call("released", assignment=assignment, refusal=refusal, now=now)
