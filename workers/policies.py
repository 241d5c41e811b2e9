"""Working-time rules: paid breaks, daily and weekly hours, rest between days, a day off in seven.

Decided from the database (one WorkState row per annotator, kept by every heartbeat and action)
so they hold when Celery is down. They plug into the dispatcher through settings:
`working_time_gate` in FAIRLABEL_DISPATCH_GATES, `WorkingTimeHooks` in FAIRLABEL_ASSIGNMENT_HOOKS,
`working_time_rules` in FAIRLABEL_RULE_SECTIONS. Defaults and sources: SOURCES.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from django.utils.translation import gettext as _

from labeling.policies import (
    RULE_SOURCES,
    DispatchContext,
    Refusal,
    Restriction,
    RuleDoc,
    user_tz,
)
from workers.models import WorkState

ZERO = Decimal("0.000")


def minutes(value) -> timedelta:
    """Policy minutes (fractions allowed) as an exact timedelta, never through a float."""
    return timedelta(microseconds=int(Decimal(value) * 60_000_000))


def hours(value) -> timedelta:
    return minutes(Decimal(value) * 60)


def seconds_of(delta: timedelta) -> Decimal:
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return (Decimal(micros) / 1_000_000).quantize(Decimal("0.001"))


def local_day(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date()


def day_start(day: date, tz: tzinfo) -> datetime:
    """The instant a local day begins (DST-aware), as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=tz)


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Standing:
    """Where an annotator stands against the working-time rules at `now`."""

    now: datetime
    today_seconds: Decimal
    today_break_seconds: Decimal
    week_seconds: Decimal
    break_until: datetime | None
    break_kind: str
    work_until_break: Decimal | None  # seconds of work left before the next break is due
    refusal: Refusal | None
    sensitive_seconds: Decimal = ZERO  # sensitive content today

    def as_dict(self) -> dict:
        return {
            "today_seconds": str(self.today_seconds),
            "today_break_seconds": str(self.today_break_seconds),
            "paid_seconds_today": str(self.today_seconds + self.today_break_seconds),
            "week_seconds": str(self.week_seconds),
            "break_until": self.break_until.isoformat() if self.break_until else None,
            "break_kind": self.break_kind or None,
            "next_break_in_seconds": (
                None if self.work_until_break is None else str(self.work_until_break)
            ),
            "sensitive_seconds_today": str(self.sensitive_seconds),
            "refusal": None
            if self.refusal is None
            else {
                "error": self.refusal.code,
                "detail": self.refusal.detail,
                "until": self.refusal.until.isoformat() if self.refusal.until else None,
            },
        }


def standing_of(state: WorkState | None, *, now: datetime, tz: tzinfo, policies: dict) -> Standing:
    today = local_day(now, tz)
    if state is None or state.last_beat_at is None:
        return Standing(now, ZERO, ZERO, ZERO, None, "", _work_left(None, policies), None)
    same_day = state.day == today
    today_seconds = state.day_seconds if same_day else ZERO
    today_breaks = state.day_break_seconds if same_day else ZERO
    week_seconds = state.week_seconds if state.week == week_of(today) else ZERO
    on_break = state.break_until is not None and state.break_until > now
    refusals: list[Refusal] = []
    rest = hours(policies["FAIRLABEL_REST_HOURS"])
    # Rest between working days: the day's first work waits until the rest has passed.
    if not same_day and now < state.last_beat_at + rest:
        refusals.append(_rest(state.last_beat_at + rest))
    if same_day and state.prev_last_at is not None and now < state.prev_last_at + rest:
        refusals.append(_rest(state.prev_last_at + rest))
    # One day off in seven.
    yesterday = today - timedelta(days=1)
    if (state.day == yesterday and state.streak_days >= 6) or (same_day and state.streak_days >= 7):
        refusals.append(
            Refusal(
                code="rest",
                detail=_("You have worked six days in a row: today is your day off."),
                rule="day-off",
                until=day_start(today + timedelta(days=1), tz),
            )
        )
    earliest_next_day = max(day_start(today + timedelta(days=1), tz), state.last_beat_at + rest)
    if today_seconds >= seconds_of(hours(policies["FAIRLABEL_DAILY_HOURS"])):
        refusals.append(
            Refusal(
                code="daily_limit",
                detail=_("You reached today's working hours. See you tomorrow."),
                rule="daily-limit",
                until=earliest_next_day,
            )
        )
    if week_seconds >= seconds_of(hours(policies["FAIRLABEL_WEEKLY_HOURS"])):
        next_week = day_start(week_of(today) + timedelta(days=7), tz)
        refusals.append(
            Refusal(
                code="weekly_limit",
                detail=_("You reached this week's working hours."),
                rule="weekly-limit",
                until=max(next_week, state.last_beat_at + rest),
            )
        )
    # The cool-down's break is paid rest from sensitive content, not a stop: work elsewhere
    # (safe tasks, other projects) ends it.
    if on_break and state.break_kind != "cooldown":
        refusals.append(
            Refusal(
                code="break",
                detail=_("Time for a break. Tasks come back by themselves after it."),
                rule="breaks",
                until=state.break_until,
            )
        )
    refusal = None
    for candidate in refusals:
        if refusal is None or (candidate.until or now) > (refusal.until or now):
            refusal = candidate
    return Standing(
        now=now,
        today_seconds=today_seconds,
        today_break_seconds=today_breaks,
        week_seconds=week_seconds,
        break_until=state.break_until if on_break else None,
        break_kind=state.break_kind if on_break else "",
        work_until_break=_work_left(state if same_day else None, policies),
        refusal=refusal,
        sensitive_seconds=state.day_sensitive_seconds if same_day else ZERO,
    )


def _rest(until: datetime) -> Refusal:
    return Refusal(
        code="rest",
        detail=_("Rest between working days: you can start again after the rest period."),
        rule="rest",
        until=until,
    )


def break_due(state: WorkState, policies: dict) -> tuple[str, timedelta] | None:
    """The break the stretch or the day has earned, if any: (kind, length)."""
    if not state.day_long_break and state.day_seconds >= seconds_of(
        hours(policies["FAIRLABEL_LONG_BREAK_AT_HOURS"])
    ):
        return "long", minutes(policies["FAIRLABEL_LONG_BREAK_MINUTES"])
    if state.stretch_sensitive:
        after = minutes(policies["FAIRLABEL_SENSITIVE_BREAK_AFTER_MINUTES"])
        if state.stretch_seconds >= seconds_of(after):
            return "sensitive", minutes(policies["FAIRLABEL_SENSITIVE_BREAK_MINUTES"])
    elif state.stretch_seconds >= seconds_of(minutes(policies["FAIRLABEL_BREAK_AFTER_MINUTES"])):
        return "due", minutes(policies["FAIRLABEL_BREAK_MINUTES"])
    return None


def _work_left(state: WorkState | None, policies: dict) -> Decimal:
    stretch = state.stretch_seconds if state else ZERO
    sensitive = state.stretch_sensitive if state else False
    name = (
        "FAIRLABEL_SENSITIVE_BREAK_AFTER_MINUTES" if sensitive else "FAIRLABEL_BREAK_AFTER_MINUTES"
    )
    left = seconds_of(minutes(policies[name])) - stretch
    if state is None or not state.day_long_break:
        day = state.day_seconds if state else ZERO
        left = min(left, seconds_of(hours(policies["FAIRLABEL_LONG_BREAK_AT_HOURS"])) - day)
    return max(left, ZERO)


# --- the dispatcher's gate and hooks -----------------------------------------------------------


def annotator_rows(context: DispatchContext) -> tuple[WorkState | None, set[str]]:
    """The annotator's working state and its consent for the project, read once per request for
    both gates (one query; a second only before the annotator's first sign of work)."""

    def load() -> tuple[WorkState | None, set[str]]:
        from django.db.models import JSONField, OuterRef, Subquery

        from workers.models import Consent

        consent = Consent.objects.filter(project_id=context.project.pk)
        state = (
            WorkState.objects.filter(annotator_id=context.annotator.pk)
            .annotate(
                consented=Subquery(
                    consent.filter(annotator_id=OuterRef("annotator_id")).values("categories")[:1],
                    output_field=JSONField(),
                )
            )
            .first()
        )
        if state is not None:
            return state, set(state.consented or [])
        row = (
            consent.filter(annotator_id=context.annotator.pk)
            .values_list("categories", flat=True)
            .first()
        )
        return None, set(row or [])

    return context.memo("workers.rows", load)


def working_time_gate(context: DispatchContext) -> Refusal | None:
    """Breaks, daily and weekly hours, rest and the day off, across all projects."""
    state, _consented = annotator_rows(context)
    return standing_of(state, now=context.now, tz=context.tz, policies=context.policies).refusal


def consent_covers(*, user, project, task) -> bool:
    """FAIRLABEL_TASK_ACCESS_CHECKS: an annotator sees a task's content only with consent for
    every one of its categories (withdrawing consent withdraws access at once)."""
    from labeling.dispatch import task_categories
    from workers.models import Consent

    categories = set(task_categories(task=task, project=project))
    if not categories:
        return True
    consented = (
        Consent.objects.filter(annotator=user, project=project)
        .values_list("categories", flat=True)
        .first()
    )
    return categories <= set(consented or [])


def category_caps(policies: dict) -> dict[str, Decimal]:
    """Optional per-category daily caps in hours, from FAIRLABEL_CATEGORY_DAILY_HOURS
    ("gore=1,sexual=2")."""
    from django.conf import settings

    caps: dict[str, Decimal] = {}
    for item in getattr(settings, "FAIRLABEL_CATEGORY_DAILY_HOURS", []) or []:
        name, _sep, hours_text = str(item).partition("=")
        try:
            caps[name.strip()] = Decimal(hours_text.strip())
        except ArithmeticError:
            continue
    return caps


def exposure_gate(context: DispatchContext) -> Restriction | None:
    """Consent, daily caps on sensitive time (in total and per category), the cool-down after a
    run of sensitive items, and "no more sensitive work today": each narrows what may be
    served. Safe tasks of the same project are served meanwhile; when none is left, the answer
    is the restriction's refusal with until when."""
    from labeling.models import Category

    now, tz, p = context.now, context.tz, context.policies
    state, consented = annotator_rows(context)
    restriction = Restriction()
    not_consented = frozenset(Category.values) - consented
    if not_consented:
        restriction = restriction.combine(
            Restriction(
                excluded_categories=not_consented,
                refusal=Refusal(
                    code="consent_required",
                    detail=_(
                        "The tasks left here may hold content you have not agreed to see. "
                        "Read what they may contain and choose, or come back later."
                    ),
                    rule="consent",
                ),
            )
        )
    today = local_day(now, tz)
    midnight = day_start(today + timedelta(days=1), tz)
    if state is None:
        return restriction if restriction.narrows else None
    same_day = state.day == today
    if state.sensitive_stopped_day == today:
        restriction = restriction.combine(_safe_only_until(midnight, "stopped"))
    if same_day and state.day_sensitive_seconds >= seconds_of(
        hours(p["FAIRLABEL_SENSITIVE_DAILY_HOURS"])
    ):
        restriction = restriction.combine(_safe_only_until(midnight, "daily"))
    if same_day:
        spent = state.day_category_seconds or {}
        over = frozenset(
            name
            for name, cap in category_caps(p).items()
            if Decimal(spent.get(name, "0")) >= seconds_of(hours(cap))
        )
        if over:
            restriction = restriction.combine(
                Restriction(excluded_categories=over, refusal=_cap_refusal(midnight, "category"))
            )
    if (
        state.sensitive_streak >= int(p["FAIRLABEL_SENSITIVE_STREAK"])
        and state.cooldown_until is not None
        and now < state.cooldown_until
    ):
        restriction = restriction.combine(_safe_only_until(state.cooldown_until, "cooldown"))
    return restriction if restriction.narrows else None


COOLDOWN_RULE = "cool-down"


def _cap_refusal(until: datetime, why: str) -> Refusal:
    details = {
        "daily": _(
            "You reached today's limit of sensitive content. Only safe tasks until tomorrow."
        ),
        "category": _("You reached today's limit for this kind of content."),
        "stopped": _("You chose no more sensitive work today. Only safe tasks until tomorrow."),
        "cooldown": _(
            "After a run of sensitive items, a pause from them: safe tasks only, or a short paid "
            "cool-down."
        ),
    }
    anchors = {
        "daily": "exposure-caps",
        "category": "exposure-caps",
        "stopped": "recovery",
        "cooldown": COOLDOWN_RULE,
    }
    return Refusal(code="exposure_cap", detail=details[why], rule=anchors[why], until=until)


def _safe_only_until(until: datetime, why: str) -> Restriction:
    return Restriction(safe_only=True, refusal=_cap_refusal(until, why))


class WorkingTimeHooks:
    """Serving, submitting and skipping are signs of work, like heartbeats: an API client that
    sends no heartbeat still has its time counted (and its breaks and limits applied)."""

    @staticmethod
    def served(*, assignment, context: DispatchContext, now: datetime) -> None:
        _activity_of(assignment, context, now, event="served")

    @staticmethod
    def submitted(*, assignment, annotation, context: DispatchContext, now: datetime) -> None:
        _activity_of(assignment, context, now, event="submitted")

    @staticmethod
    def skipped(*, assignment, context: DispatchContext, now: datetime) -> None:
        _activity_of(assignment, context, now, event="skipped")

    @staticmethod
    def refused(*, context: DispatchContext, refusal: Refusal, now: datetime) -> None:
        """Every refusal is counted for the auditors (hours limits and exposure caps held).
        Nothing can be served until the cool-down ends: that wait is a paid break."""
        from workers.services import refusal_record

        refusal_record(
            annotator_id=context.annotator.pk,
            project_id=context.project.pk,
            code=refusal.code,
            now=now,
            tz=context.tz,
        )
        if refusal.rule == COOLDOWN_RULE and refusal.until is not None:
            from workers.services import cooldown_break_record

            cooldown_break_record(
                annotator_id=context.annotator.pk, until=refusal.until, now=now, tz=context.tz
            )


def _activity_of(assignment, context: DispatchContext, now: datetime, *, event: str) -> None:
    from labeling.dispatch import task_categories
    from workers.services import work_activity_record

    annotator = context.annotator
    recorded = getattr(annotator, "_fairlabel_activity_at", None)
    if event == "served" and recorded is not None and abs(now - recorded) < timedelta(seconds=2):
        # The next task served in the same request as a submit or skip (the page's flow): that
        # sign of work was just recorded, and the next one counts the time in between.
        return
    work_activity_record(
        annotator_id=assignment.annotator_id,
        now=now,
        kind="task",
        project_id=assignment.project_id,
        categories=task_categories(task=assignment.task, project=context.project),
        finished=event != "served",
        tz=context.tz,
        policies=context.policies,
    )
    annotator._fairlabel_activity_at = now


# --- the rules page ---------------------------------------------------------------------------


def settings_support() -> str:
    from django.conf import settings

    return settings.FAIRLABEL_SUPPORT_CONTACT


def _hm(seconds: Decimal) -> str:
    total = int(seconds)
    return _("%(h)d h %(m)02d min") % {"h": total // 3600, "m": (total % 3600) // 60}


def working_time_rules(*, user, now: datetime, policies: dict) -> list[RuleDoc]:
    p = policies
    standing = None
    from accounts.roles import Role, role_of

    if user is not None and user.is_authenticated and role_of(user) == Role.ANNOTATOR:
        state = WorkState.objects.filter(annotator_id=user.pk).first()
        standing = standing_of(state, now=now, tz=user_tz(user), policies=p)

    def you(text: str) -> str:
        return text if standing is not None else ""

    return [
        RuleDoc(
            "working-time",
            _("Working time is measured, not guessed"),
            _(
                "While the labeling page is open and you use it, it tells Fairlabel every 30 "
                "seconds that you are working. A pause longer than %(idle)s seconds is not "
                "counted as work. Reading the instructions before your first task counts. "
                "Only you see this detail; owners see hours per pseudonym."
            )
            % {"idle": p["FAIRLABEL_IDLE_SECONDS"]},
            source=RULE_SOURCES["working-time"],
        ),
        RuleDoc(
            "breaks",
            _("Breaks"),
            _(
                "After %(after)s minutes of continuous work, a %(len)s-minute break; after "
                "%(safter)s minutes when the work included sensitive content, %(slen)s minutes; "
                "once your day reaches %(long_at)s hours, a %(long)s-minute break. During a "
                "break no task is handed out, and the page resumes by itself. You may also "
                "take a break at any time."
            )
            % {
                "after": p["FAIRLABEL_BREAK_AFTER_MINUTES"],
                "len": p["FAIRLABEL_BREAK_MINUTES"],
                "safter": p["FAIRLABEL_SENSITIVE_BREAK_AFTER_MINUTES"],
                "slen": p["FAIRLABEL_SENSITIVE_BREAK_MINUTES"],
                "long_at": p["FAIRLABEL_LONG_BREAK_AT_HOURS"],
                "long": p["FAIRLABEL_LONG_BREAK_MINUTES"],
            },
            source=RULE_SOURCES["breaks"],
            standing=you(
                _("Next break after %(left)s more of work.")
                % {"left": _hm(standing.work_until_break or ZERO)}
                if standing and standing.break_until is None
                else _("You are on a break.")
            ),
            codes=("break",),
        ),
        RuleDoc(
            "daily-limit",
            _("Daily hours"),
            _("At most %(h)s hours of work a day, across all projects.")
            % {"h": p["FAIRLABEL_DAILY_HOURS"]},
            source=RULE_SOURCES["daily-limit"],
            standing=you(
                _("Today: %(t)s worked.") % {"t": _hm(standing.today_seconds)} if standing else ""
            ),
            codes=("daily_limit",),
        ),
        RuleDoc(
            "weekly-limit",
            _("Weekly hours"),
            _("At most %(h)s hours of work a week (Monday to Sunday), across all projects.")
            % {"h": p["FAIRLABEL_WEEKLY_HOURS"]},
            source=RULE_SOURCES["weekly-limit"],
            standing=you(
                _("This week: %(t)s worked.") % {"t": _hm(standing.week_seconds)}
                if standing
                else ""
            ),
            codes=("weekly_limit",),
        ),
        RuleDoc(
            "rest",
            _("Rest between working days"),
            _(
                "At least %(h)s hours between the end of one working day and the start of the "
                "next. A working day is a calendar day in your time zone."
            )
            % {"h": p["FAIRLABEL_REST_HOURS"]},
            source=RULE_SOURCES["rest"],
            codes=("rest",),
        ),
        RuleDoc(
            "consent",
            _("Consent to sensitive content"),
            _(
                "Before your first task of a project whose content may be disturbing, you read "
                "what it may hold and agree, per kind of content, to see it. Without your "
                "consent, those tasks are not given to you. You can withdraw at any time, in one "
                "click, without penalty; it changes no pay owed."
            ),
            source=RULE_SOURCES["consent"],
            codes=("consent_required",),
        ),
        RuleDoc(
            "exposure-caps",
            _("Limits on sensitive content"),
            _(
                "At most %(h)s hours of sensitive content a day in total, across projects; some "
                "kinds may have a lower limit. Past it, you get only safe tasks until tomorrow."
            )
            % {"h": p["FAIRLABEL_SENSITIVE_DAILY_HOURS"]},
            source=RULE_SOURCES["exposure-caps"],
            standing=you(
                _("Today: %(t)s of sensitive content.")
                % {"t": _hm(standing.sensitive_seconds if standing else ZERO)}
                if standing
                else ""
            ),
            codes=("exposure_cap",),
        ),
        RuleDoc(
            "cool-down",
            _("Cool-down"),
            _(
                "After %(n)s sensitive items in a row, the next ones are safe tasks, or a "
                "%(m)s-minute pause from sensitive content."
            )
            % {"n": p["FAIRLABEL_SENSITIVE_STREAK"], "m": p["FAIRLABEL_COOLDOWN_MINUTES"]},
            source=RULE_SOURCES["cool-down"],
            codes=("exposure_cap",),
        ),
        RuleDoc(
            "recovery",
            _("Recovery controls"),
            _(
                "On sensitive work you can at any moment take a recovery break, or stop "
                "sensitive work for the rest of the day; the support contact is one click away: "
                "%(contact)s. Fairlabel never asks about your mood and stores nothing of it."
            )
            % {"contact": settings_support()},
            source=RULE_SOURCES["recovery"],
        ),
        RuleDoc(
            "day-off",
            _("A day off in seven"),
            _("After six days of work in a row, the seventh is a day off."),
            source=RULE_SOURCES["day-off"],
            codes=("rest",),
        ),
    ]
