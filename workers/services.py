"""Working time: every state change, inside a transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from fairlabel.errors import DomainError
from labeling.policies import policy_values, tz_named, user_tz
from workers.models import Break, RefusalDay, WorkDay, WorkSession, WorkSpan, WorkState
from workers.policies import (
    ZERO,
    Standing,
    break_due,
    day_start,
    local_day,
    minutes,
    seconds_of,
    standing_of,
    week_of,
)


def _state_locked(annotator_id: int) -> WorkState:
    state = (
        WorkState.objects.select_for_update(of=("self",))
        .select_related("span")
        .filter(annotator_id=annotator_id)
        .first()
    )
    if state is None:
        WorkState.objects.bulk_create([WorkState(annotator_id=annotator_id)], ignore_conflicts=True)
        state = WorkState.objects.select_for_update().get(annotator_id=annotator_id)
    return state


def work_activity_record(
    *,
    annotator_id: int,
    now: datetime,
    kind: str,
    project_id: int | None,
    categories: Sequence[str] = (),
    finished: bool = False,
    tz: tzinfo,
    policies: dict,
) -> WorkState:
    """One sign of work (a heartbeat, a task served, submitted or skipped) at `now`, on a task
    whose content carries `categories` (none: not sensitive).

    The time since the previous sign counts as work unless it is longer than
    FAIRLABEL_IDLE_SECONDS (idle) or falls in a break (paid as the break). A silence longer than
    FAIRLABEL_SESSION_TIMEOUT_MINUTES closes the session at its last sign and opens another; a
    pause as long as a break ends the stretch of continuous work. When the stretch or the day
    has earned a break, the break starts now. Sensitive time is counted in total and per
    category for the day; `finished` (a submit or skip) counts the run of sensitive items done
    in a row (and starts the cool-down once it is long enough). Called inside the caller's
    transaction (the dispatcher's, or heartbeat_record's)."""
    categories = sorted(set(categories))
    sensitive = bool(categories)
    with transaction.atomic(savepoint=False):
        state = _state_locked(annotator_id)
        last = state.last_beat_at
        if last is not None and now < last:
            now = last  # a clock that went back never un-counts work
        if state.break_kind == Break.Kind.COOLDOWN and _on_break(state, now):
            # Working again (another project, a safe task that came in): the wait is over.
            _break_cut(state, annotator_id=annotator_id, now=now)
        idle = Decimal(policies["FAIRLABEL_IDLE_SECONDS"])
        gap = None if last is None else seconds_of(now - last)
        credit = ZERO
        credit_from = now
        if gap is not None and gap <= idle:
            credit, credit_from = gap, last
            if state.break_started_at is not None and state.break_until is not None:
                # Time inside a break is paid as the break, not as work.
                overlap_start = max(last, state.break_started_at)
                overlap_end = min(now, state.break_until)
                if overlap_end > overlap_start:
                    credit -= seconds_of(overlap_end - overlap_start)
        timeout = minutes(policies["FAIRLABEL_SESSION_TIMEOUT_MINUTES"])
        if last is None or state.session_id is None or now - last > timeout:
            if state.session_id is not None:
                WorkSession.objects.filter(pk=state.session_id, ended_at__isnull=True).update(
                    ended_at=last
                )
            state.session = WorkSession.objects.create(annotator_id=annotator_id, started_at=now)
            state.span = None
            credit, credit_from = ZERO, now
        # A pause as long as the break the stretch would earn is that break, taken freely.
        rest_name = (
            "FAIRLABEL_SENSITIVE_BREAK_MINUTES"
            if state.stretch_sensitive
            else "FAIRLABEL_BREAK_MINUTES"
        )
        if gap is not None and gap >= seconds_of(minutes(policies[rest_name])):
            state.stretch_seconds, state.stretch_sensitive = ZERO, False
        today_credit = _count_day_and_week(state, now=now, credit=credit, tz=tz)
        if sensitive and today_credit > 0:
            state.day_sensitive_seconds += today_credit
            per_category = dict(state.day_category_seconds or {})
            for name in categories:
                per_category[name] = str(Decimal(per_category.get(name, "0")) + today_credit)
            state.day_category_seconds = per_category
        if finished:
            _count_streak(state, sensitive=sensitive, now=now, policies=policies)
        state.stretch_seconds += credit
        state.stretch_sensitive = state.stretch_sensitive or sensitive
        _span_extend(
            state,
            annotator_id=annotator_id,
            kind=kind,
            project_id=project_id,
            categories=categories,
            start=credit_from,
            now=now,
            credit=credit,
        )
        on_break = state.break_until is not None and state.break_until > now
        due = None if on_break else break_due(state, policies)
        if due is not None:
            kind_due, length = due
            _break_open(state, annotator_id=annotator_id, kind=kind_due, now=now, length=length)
            if kind_due == Break.Kind.LONG:
                state.day_long_break = True
        state.last_beat_at = now
        state.save()
    return state


def _count_streak(state: WorkState, *, sensitive: bool, now: datetime, policies: dict) -> None:
    """Sensitive items done in a row; a safe one, or a cool-down that has passed, ends it."""
    if not sensitive or (state.cooldown_until is not None and now >= state.cooldown_until):
        state.sensitive_streak, state.cooldown_until = 0, None
    if sensitive:
        state.sensitive_streak += 1
        if state.sensitive_streak >= int(policies["FAIRLABEL_SENSITIVE_STREAK"]):
            state.cooldown_until = now + minutes(policies["FAIRLABEL_COOLDOWN_MINUTES"])


def _count_day_and_week(state: WorkState, *, now: datetime, credit: Decimal, tz: tzinfo) -> Decimal:
    """Add the credit to the day and the week (a new day or week starts from its share after
    the local midnight); returns the share counted for today."""
    today = local_day(now, tz)
    today_credit = credit
    if state.day != today:
        if state.day is not None and state.day == today - timedelta(days=1):
            state.streak_days += 1
        else:
            state.streak_days = 1
        state.prev_last_at = state.last_beat_at
        state.day = today
        today_credit = min(credit, seconds_of(now - day_start(today, tz)))
        state.day_seconds = today_credit
        state.day_break_seconds = ZERO
        state.day_long_break = False
        state.day_sensitive_seconds = ZERO
        state.day_category_seconds = {}
    else:
        state.day_seconds += credit
    monday = week_of(today)
    if state.week != monday:
        state.week = monday
        state.week_seconds = min(credit, seconds_of(now - day_start(monday, tz)))
    else:
        state.week_seconds += credit
    return today_credit


def _span_extend(
    state: WorkState,
    *,
    annotator_id: int,
    kind: str,
    project_id: int | None,
    categories: list[str],
    start: datetime,
    now: datetime,
    credit: Decimal,
) -> None:
    """Extend the current span when the work goes on in the same kind, project and sensitivity;
    else start a new one. One UPDATE in the common case."""
    span = state.span
    if (
        span is not None
        and span.kind == kind
        and span.project_id == project_id
        and span.categories == categories
        and credit > 0
        and span.ended_at >= start
    ):
        WorkSpan.objects.filter(pk=span.pk).update(ended_at=now, seconds=F("seconds") + credit)
        return
    state.span = WorkSpan.objects.create(
        annotator_id=annotator_id,
        session_id=state.session_id,
        kind=kind,
        project_id=project_id,
        started_at=start,
        ended_at=now,
        seconds=credit,
        sensitive=bool(categories),
        categories=categories,
    )


def _break_open(
    state: WorkState, *, annotator_id: int, kind: str, now: datetime, length: timedelta
) -> Break:
    taken = Break.objects.create(
        annotator_id=annotator_id,
        kind=kind,
        started_at=now,
        ends_at=now + length,
        paid_seconds=seconds_of(length),
    )
    state.break_kind, state.break_started_at, state.break_until = kind, now, now + length
    state.stretch_seconds, state.stretch_sensitive = ZERO, False
    state.day_break_seconds += seconds_of(length)
    return taken


def _on_break(state: WorkState, now: datetime) -> bool:
    return state.break_until is not None and state.break_until > now


def _break_cut(state: WorkState, *, annotator_id: int, now: datetime) -> None:
    """End the break in progress at `now`: paid up to now, and the day's break time with it."""
    current = (
        Break.objects.select_for_update()
        .filter(annotator_id=annotator_id, started_at=state.break_started_at)
        .first()
    )
    taken = seconds_of(max(now - state.break_started_at, timedelta(0)))
    if current is not None:
        unpaid = current.paid_seconds - taken
        state.day_break_seconds = max(ZERO, state.day_break_seconds - unpaid)
        current.ended_at, current.paid_seconds = now, taken
        current.save(update_fields=["ended_at", "paid_seconds"])
    state.break_until = now


def cooldown_break_record(
    *, annotator_id: int, until: datetime, now: datetime, tz: tzinfo
) -> Break | None:
    """`next` refused because of the cool-down (nothing safe left to serve): the annotator waits
    it out, and that wait is a paid break (kind "cooldown") from now to `until`. It does not
    stop work elsewhere: it ends early when the annotator works again. Idempotent: a refusal
    during a break (this one, or another) records nothing, so breaks never overlap."""
    if until <= now:
        return None
    with transaction.atomic():
        state = _state_locked(annotator_id)
        if _on_break(state, now):
            return None
        if state.day != local_day(now, tz):
            _count_day_and_week(state, now=now, credit=ZERO, tz=tz)
        paid = seconds_of(until - now)
        taken = Break.objects.create(
            annotator_id=annotator_id,
            kind=Break.Kind.COOLDOWN,
            started_at=now,
            ends_at=until,
            paid_seconds=paid,
        )
        state.break_kind, state.break_started_at, state.break_until = taken.kind, now, until
        state.day_break_seconds += paid
        state.save()
    return taken


def held_categories(held) -> list[str]:
    """The effective categories of a touched assignment's task (annotated by assignment_touch)."""
    from labeling.categories import names_of

    return names_of(held.task_category_mask)


def heartbeat_record(
    *,
    annotator,
    now: datetime | None = None,
    project_id: int | None = None,
    assignment_id: int | None = None,
    kind: str = WorkSpan.Kind.TASK,
) -> Standing:
    """POST /api/heartbeat/: the page is open and used. Counts the time on the held task (and
    keeps it alive), or on a project's instructions, then the annotator's working time; returns
    the standing."""
    from labeling.dispatch import assignment_touch

    now = now or timezone.now()
    tz = user_tz(annotator)
    policies = policy_values()
    with transaction.atomic():
        categories: list[str] = []
        if kind == WorkSpan.Kind.TASK:
            held = assignment_touch(
                annotator=annotator, assignment_id=assignment_id, now=now, policies=policies
            )
            if held is None:
                # No task in hand (refused, on a break, between projects): nothing is being
                # labeled, so nothing is counted; a page left open cannot push a rest on.
                state = WorkState.objects.filter(annotator_id=annotator.pk).first()
                return standing_of(state, now=now, tz=tz, policies=policies)
            project_id, categories = held.project_id, held_categories(held)
        elif project_id is not None and not _readable(annotator, project_id):
            raise DomainError("not_found", "No such project open to you.", status=404)
        state = work_activity_record(
            annotator_id=annotator.pk,
            now=now,
            kind=kind,
            project_id=project_id,
            categories=categories,
            tz=tz,
            policies=policies,
        )
    return standing_of(state, now=now, tz=tz, policies=policies)


BREAK_KINDS = ("break", "recovery", "stop_sensitive_today")


def _readable(annotator, project_id: int) -> bool:
    from labeling.selectors import projects_visible_to

    return projects_visible_to(annotator).filter(pk=project_id).exists()


def break_take(*, annotator, kind: str = "break", now: datetime | None = None) -> Standing:
    """What the annotator chooses, effective at once:
    - "break": a break (FAIRLABEL_BREAK_MINUTES) during which no task is served;
    - "recovery": a recovery break from sensitive work (FAIRLABEL_SENSITIVE_BREAK_MINUTES);
    - "stop_sensitive_today": no more sensitive tasks until the next local day (safe ones go on).
    Breaks can be ended early; their paid length is at most their planned length."""
    if kind not in BREAK_KINDS:
        raise DomainError("invalid_kind", f"kind must be one of {', '.join(BREAK_KINDS)}.")
    now = now or timezone.now()
    tz = user_tz(annotator)
    policies = policy_values()
    with transaction.atomic():
        state = _state_locked(annotator.pk)
        if state.day != local_day(now, tz):
            _count_day_and_week(state, now=now, credit=ZERO, tz=tz)
        if kind == "stop_sensitive_today":
            state.sensitive_stopped_day = local_day(now, tz)
        else:
            if state.break_kind == Break.Kind.COOLDOWN and _on_break(state, now):
                # A break chosen during the cool-down's wait replaces it from now on.
                _break_cut(state, annotator_id=annotator.pk, now=now)
            if state.break_until is not None and state.break_until > now:
                raise DomainError(
                    "already_on_break",
                    "You are already on a break.",
                    status=409,
                    until=state.break_until,
                )
            recovery = kind == "recovery"
            _break_open(
                state,
                annotator_id=annotator.pk,
                kind=Break.Kind.RECOVERY if recovery else Break.Kind.VOLUNTARY,
                now=now,
                length=minutes(
                    policies[
                        "FAIRLABEL_SENSITIVE_BREAK_MINUTES"
                        if recovery
                        else "FAIRLABEL_BREAK_MINUTES"
                    ]
                ),
            )
        if state.last_beat_at is None:
            state.last_beat_at = now
        state.save()
    return standing_of(state, now=now, tz=tz, policies=policies)


def consent_set(*, annotator, project, categories: Sequence[str], now: datetime | None = None):
    """The categories of this project's content the annotator agrees to see (fewer than before:
    a withdrawal, effective at once). Every change is a ConsentEvent."""
    from labeling.models import Category
    from workers.models import Consent, ConsentEvent

    unknown = sorted(set(categories) - set(Category.values))
    if unknown:
        raise DomainError(
            "invalid_categories",
            f"Unknown categories: {', '.join(unknown)}. Known: {', '.join(Category.values)}.",
            field="categories",
        )
    now = now or timezone.now()
    wanted = sorted(set(categories))
    with transaction.atomic():
        consent = (
            Consent.objects.select_for_update().filter(annotator=annotator, project=project).first()
        )
        before = set(consent.categories) if consent else set()
        if consent is None:
            consent = Consent(annotator=annotator, project=project)
        consent.categories, consent.updated_at = wanted, now
        consent.save()
        given, withdrawn = sorted(set(wanted) - before), sorted(before - set(wanted))
        if given or withdrawn:
            ConsentEvent.objects.create(
                annotator=annotator, project=project, given=given, withdrawn=withdrawn, at=now
            )
    return consent


def break_end(*, annotator, now: datetime | None = None) -> Standing:
    """End a break you took (voluntary or recovery) early; a break the rules made due runs its
    full length."""

    now = now or timezone.now()
    tz = user_tz(annotator)
    policies = policy_values()
    with transaction.atomic():
        state = _state_locked(annotator.pk)
        if state.break_until is None or state.break_until <= now:
            raise DomainError("no_break", "You are not on a break.", status=409)
        if state.break_kind not in (Break.Kind.VOLUNTARY, Break.Kind.RECOVERY):
            raise DomainError(
                "break_due",
                "This break is due by the rules and cannot be ended early.",
                status=409,
                until=state.break_until,
            )
        _break_cut(state, annotator_id=annotator.pk, now=now)
        state.save()
    return standing_of(state, now=now, tz=tz, policies=policies)


def work_standing(*, annotator, now: datetime | None = None) -> Standing:

    now = now or timezone.now()
    state = WorkState.objects.filter(annotator_id=annotator.pk).first()
    return standing_of(state, now=now, tz=user_tz(annotator), policies=policy_values())


def work_sessions_close(*, now: datetime | None = None) -> int:
    """Close every open session with no sign of work for FAIRLABEL_SESSION_TIMEOUT_MINUTES,
    at its last sign. Safe to run twice or concurrently."""
    now = now or timezone.now()
    cutoff = now - minutes(policy_values()["FAIRLABEL_SESSION_TIMEOUT_MINUTES"])
    closed = 0
    stale = WorkState.objects.filter(session__isnull=False, last_beat_at__lt=cutoff).values_list(
        "annotator_id", flat=True
    )
    for annotator_id in list(stale[:5000]):
        with transaction.atomic():
            state = (
                WorkState.objects.select_for_update(skip_locked=True)
                .filter(annotator_id=annotator_id, session__isnull=False, last_beat_at__lt=cutoff)
                .first()
            )
            if state is None:
                continue
            WorkSession.objects.filter(pk=state.session_id, ended_at__isnull=True).update(
                ended_at=state.last_beat_at
            )
            state.session, state.span = None, None
            state.save(update_fields=["session", "span"])
            closed += 1
    return closed


def work_days_rebuild(*, annotator_ids: list[int], first: date, last: date) -> int:
    """Rebuild the daily roll-up of these annotators for local days first..last from the raw
    records (spans split at local midnights, breaks, annotations). Idempotent."""
    from accounts.models import Profile
    from labeling.models import Annotation

    zones = dict(
        Profile.objects.filter(user_id__in=annotator_ids).values_list("user_id", "timezone")
    )
    written = 0
    for annotator_id in annotator_ids:
        tz = tz_named(zones.get(annotator_id))
        start, end = day_start(first, tz), day_start(last + timedelta(days=1), tz)
        days: dict[date, dict] = defaultdict(
            lambda: {
                "active_seconds": ZERO,
                "instruction_seconds": ZERO,
                "break_seconds": ZERO,
                "sensitive_seconds": ZERO,
                "category_seconds": {},
                "tasks_done": 0,
                "first_at": None,
                "last_at": None,
            }
        )
        spans = WorkSpan.objects.filter(
            annotator_id=annotator_id, ended_at__gte=start, started_at__lt=end
        )
        for span in spans:
            field = (
                "instruction_seconds"
                if span.kind == WorkSpan.Kind.INSTRUCTIONS
                else "active_seconds"
            )
            for day, share, a, b in _split(span.started_at, span.ended_at, span.seconds, tz):
                if first <= day <= last:
                    row = days[day]
                    row[field] += share
                    if span.sensitive:
                        row["sensitive_seconds"] += share
                        per = row["category_seconds"]
                        for name in span.categories or []:
                            per[name] = str(Decimal(per.get(name, "0")) + share)
                    row["first_at"] = min(filter(None, [row["first_at"], a]))
                    row["last_at"] = max(filter(None, [row["last_at"], b]))
        for taken in Break.objects.filter(
            annotator_id=annotator_id, ends_at__gte=start, started_at__lt=end
        ):
            paid_end = taken.started_at + _as_delta(taken.paid_seconds)
            for day, share, _a, _b in _split(taken.started_at, paid_end, taken.paid_seconds, tz):
                if first <= day <= last:
                    days[day]["break_seconds"] += share
        for created in Annotation.objects.filter(
            annotator_id=annotator_id, created_at__gte=start, created_at__lt=end
        ).values_list("created_at", flat=True):
            days[local_day(created, tz)]["tasks_done"] += 1
        with transaction.atomic():
            WorkDay.objects.filter(
                annotator_id=annotator_id, day__gte=first, day__lte=last
            ).delete()
            WorkDay.objects.bulk_create(
                [
                    WorkDay(annotator_id=annotator_id, day=day, **row)
                    for day, row in sorted(days.items())
                ]
            )
        written += len(days)
    return written


def _as_delta(seconds: Decimal) -> timedelta:
    return timedelta(microseconds=int(seconds * 1_000_000))


def _split(a: datetime, b: datetime, seconds: Decimal, tz: tzinfo):
    """Share `seconds` spent between a and b over the local days they cover, in proportion."""
    total = b - a
    if total <= timedelta(0):
        yield local_day(a, tz), seconds, a, b
        return
    day = local_day(a, tz)
    cursor = a
    given = ZERO
    while cursor < b:
        boundary = min(day_start(day + timedelta(days=1), tz), b)
        if boundary >= b:
            yield day, seconds - given, cursor, b
            return
        share = (seconds * seconds_of(boundary - cursor) / seconds_of(total)).quantize(
            Decimal("0.001")
        )
        given += share
        yield day, share, cursor, boundary
        cursor, day = boundary, day + timedelta(days=1)


def work_days_roll_up(*, now: datetime | None = None) -> int:
    """The beat job: rebuild yesterday and today of everyone who worked in the last two days."""
    now = now or timezone.now()
    recent = list(
        WorkState.objects.filter(last_beat_at__gte=now - timedelta(days=2)).values_list(
            "annotator_id", flat=True
        )
    )
    today = now.date()
    return work_days_rebuild(
        annotator_ids=recent, first=today - timedelta(days=2), last=today + timedelta(days=1)
    )


def display_preference_set(*, user, blur_px: int, now: datetime | None = None):
    """The user's own blur strength for sensitive images (BLUR_MIN_PX..BLUR_MAX_PX)."""
    from workers.models import BLUR_MAX_PX, BLUR_MIN_PX, DisplayPreference

    if isinstance(blur_px, bool) or not isinstance(blur_px, int):
        raise DomainError("invalid_blur", "blur_px must be a whole number.", field="blur_px")
    if not BLUR_MIN_PX <= blur_px <= BLUR_MAX_PX:
        raise DomainError(
            "invalid_blur",
            f"blur_px must be from {BLUR_MIN_PX} to {BLUR_MAX_PX}.",
            field="blur_px",
        )
    with transaction.atomic():
        preference, _created = DisplayPreference.objects.update_or_create(
            user_id=user.pk, defaults={"blur_px": blur_px, "updated_at": now or timezone.now()}
        )
    return preference


def refusal_record(
    *, annotator_id: int, project_id: int, code: str, now: datetime, tz: tzinfo
) -> None:
    """Count one refusal of `next` (the rule's code) on the annotator's local day. One row per
    annotator, project, day and rule; asking again adds to its count. Concurrent first refusals
    meet on the unique constraint: the loser counts on the winner's row."""
    day = local_day(now, tz)
    rows = RefusalDay.objects.filter(
        annotator_id=annotator_id, project_id=project_id, day=day, code=code
    )
    with transaction.atomic():
        if rows.update(count=F("count") + 1, last_at=now):
            return
        try:
            with transaction.atomic():
                RefusalDay.objects.create(
                    annotator_id=annotator_id,
                    project_id=project_id,
                    day=day,
                    code=code,
                    first_at=now,
                    last_at=now,
                )
        except IntegrityError:
            rows.update(count=F("count") + 1, last_at=now)
