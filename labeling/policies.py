"""The dispatcher's rule contract, and labeling's own rules.

Other apps teach the dispatcher their rules the way Django learns middleware: by paths named in
settings, in order. labeling never imports them.

Gates (``FAIRLABEL_DISPATCH_GATES``) decide, before a task is claimed, whether the annotator may be
served and from what::

    gate(context: DispatchContext) -> Refusal | Restriction | None

- One ``DispatchContext`` is built per request (annotator with profile and time zone, project,
  now, the open assignment the annotator already holds in the project, the policy values in
  force) and handed to every gate, so no gate re-reads it. ``context.memo(key, compute)`` lets the
  gates of one app share a read (the working-time standing is read once for all its gates).
- A ``Refusal`` (code, detail, rule anchor, until) stops the list: ``next`` answers 409 with it,
  and it also covers the assignment already held: the held task is not handed back and its slot
  is released (its hooks see ``released``).
- A ``Restriction`` narrows what may be served (``excluded_categories``; ``safe_only``) and carries
  the refusal to give when nothing is left under it while unrestricted tasks remain: the answer is
  then 409 with that refusal and its ``until``, never 204 "nothing left". Restrictions combine.

Hooks (``FAIRLABEL_ASSIGNMENT_HOOKS``) are objects (modules, classes or instances) with any of the
methods of ``AssignmentHooks``, called with keyword arguments inside the transaction that changes
the assignment. A hook may raise ``Refused`` from ``served``: the claim is rolled back and the
annotator gets that refusal. That is how a check that must hold under concurrency (a budget, a
cap) refuses from inside the claim's transaction; the dispatcher reads only its own
one-open-assignment constraint as "already holds a task". ``refused`` is called when ``next``
answers a refusal, in a transaction of its own after the claim's rolled back (the cool-down
waited out is recorded as a paid break there).

Every path named in these settings is imported and checked by ``manage.py check`` (and so at
start-up): a typo fails there, not on the first request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from fairlabel.errors import DomainError


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str
    rule: str
    until: datetime | None = None

    def as_error(self) -> Refused:
        return Refused(self)


class Refused(DomainError):
    """A rule said no (409 with the rule and until when). Raise it from a hook's ``served``
    to refuse from inside the claim's transaction."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(
            refusal.code,
            refusal.detail,
            status=409,
            until=refusal.until,
            rule=rule_url(refusal.rule),
        )
        self.refusal = refusal


@dataclass(frozen=True)
class Restriction:
    """Narrows what may be served: no task carrying one of ``excluded_categories``; with
    ``safe_only``, no task carrying any category at all. ``refusal``: what to answer when nothing
    is left under the restriction while other tasks remain."""

    excluded_categories: frozenset[str] = frozenset()
    safe_only: bool = False
    refusal: Refusal | None = None

    @property
    def narrows(self) -> bool:
        return self.safe_only or bool(self.excluded_categories)

    def combine(self, other: Restriction) -> Restriction:
        return Restriction(
            excluded_categories=self.excluded_categories | other.excluded_categories,
            safe_only=self.safe_only or other.safe_only,
            refusal=_later(self.refusal, other.refusal),
        )

    def allows(self, categories: Iterable[str]) -> bool:
        categories = set(categories)
        if self.safe_only and categories:
            return False
        return not (categories & self.excluded_categories)


def _later(a: Refusal | None, b: Refusal | None) -> Refusal | None:
    """Of two refusals, the one that says when tasks come back, and of those the later: nothing
    is served before both have passed. A refusal without `until` (consent, say) waits on the
    annotator's own action, so the timed one is the news."""
    if a is None or b is None:
        return a or b
    if a.until is None or b.until is None:
        return b if a.until is None and b.until is not None else a
    return a if a.until >= b.until else b


@dataclass
class DispatchContext:
    """Everything a gate or hook may need, read once per request. The profile is read on first
    use (one query), the policy values when the context is built."""

    annotator: Any
    project: Any
    now: datetime
    held: Any = None  # the open Assignment the annotator holds in this project, task loaded
    policies: dict[str, Any] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def profile(self) -> Any:
        def load():
            from accounts.models import Profile

            return (
                Profile.objects.filter(user_id=self.annotator.pk)
                .only("timezone", "country")
                .first()
            )

        return self.memo("accounts.profile", load)

    @property
    def tz(self) -> tzinfo:
        return self.memo("accounts.tz", lambda: user_tz(self.annotator))

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


def user_tz(user) -> tzinfo:
    """The user's time zone: learnt with the token (one query fewer), else from its profile,
    then kept on the user object for the rest of the request."""
    name = getattr(user, "_fairlabel_tz", None)
    if name is None:
        from accounts.models import Profile

        name = (
            Profile.objects.filter(user_id=user.pk).values_list("timezone", flat=True).first()
            or "UTC"
        )
        user._fairlabel_tz = name
    return tz_named(name)


def tz_named(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@runtime_checkable
class Gate(Protocol):
    def __call__(self, context: DispatchContext) -> Refusal | Restriction | None: ...


class AssignmentHooks(Protocol):
    """What another app records in the dispatcher's transaction. Implement any subset."""

    def served(self, *, assignment, context: DispatchContext, now: datetime) -> None: ...

    def submitted(
        self, *, assignment, annotation, context: DispatchContext, now: datetime
    ) -> None: ...

    def skipped(self, *, assignment, context: DispatchContext, now: datetime) -> None: ...

    def expired(self, *, assignments: list, now: datetime) -> None: ...

    def released(self, *, assignment, refusal: Refusal, now: datetime) -> None: ...

    def refused(self, *, context: DispatchContext, refusal: Refusal, now: datetime) -> None:
        """`next` answers this refusal (after the claim's transaction rolled back; called in a
        transaction of its own)."""


HOOK_EVENTS = ("served", "submitted", "skipped", "expired", "released", "refused")


def rule_url(anchor: str) -> str:
    return f"{reverse('labeling:rules')}#{anchor}"


@cache
def _load(paths: tuple[str, ...]) -> tuple[Callable | object, ...]:
    return tuple(import_string(path) for path in paths)


def dispatch_gates() -> tuple[Callable, ...]:
    return _load(tuple(settings.FAIRLABEL_DISPATCH_GATES))  # type: ignore[return-value]


def assignment_hooks() -> tuple[object, ...]:
    return _load(tuple(settings.FAIRLABEL_ASSIGNMENT_HOOKS))


def display_preferences(*, user_id: int) -> dict[str, Any]:
    """How this person wants protected content shown (e.g. `blur_px`), from the functions named
    in FAIRLABEL_DISPLAY_PREFERENCES, later ones overriding earlier ones."""
    found: dict[str, Any] = {}
    for provider in _load(tuple(settings.FAIRLABEL_DISPLAY_PREFERENCES)):
        found.update(provider(user_id=user_id))  # type: ignore[operator]
    return found


def hooks_call(event: str, **kwargs: object) -> None:
    for hook in assignment_hooks():
        handler = getattr(hook, event, None)
        if handler is not None:
            handler(**kwargs)


def gates_check(
    context: DispatchContext, *, gates: Iterable[Callable] | None = None
) -> Restriction:
    """Run every gate in order; raise the first refusal, else return the combined restriction."""
    restriction = Restriction()
    for gate in dispatch_gates() if gates is None else gates:
        outcome = gate(context)
        if isinstance(outcome, Refusal):
            raise outcome.as_error()
        if isinstance(outcome, Restriction):
            restriction = restriction.combine(outcome)
    return restriction


# --- policy values: settings, with the admin's overrides --------------------------------------

# DESIGN.md "Policy settings": every one is a setting read from the environment; an admin may
# override it per deployment (labeling.PolicyOverride, each change audited).
POLICY_NAMES: tuple[str, ...] = (
    "FAIRLABEL_FLOOR_HOURLY",
    "FAIRLABEL_BREAK_AFTER_MINUTES",
    "FAIRLABEL_BREAK_MINUTES",
    "FAIRLABEL_SENSITIVE_BREAK_AFTER_MINUTES",
    "FAIRLABEL_SENSITIVE_BREAK_MINUTES",
    "FAIRLABEL_LONG_BREAK_AT_HOURS",
    "FAIRLABEL_LONG_BREAK_MINUTES",
    "FAIRLABEL_IDLE_SECONDS",
    "FAIRLABEL_SESSION_TIMEOUT_MINUTES",
    "FAIRLABEL_DAILY_HOURS",
    "FAIRLABEL_WEEKLY_HOURS",
    "FAIRLABEL_REST_HOURS",
    "FAIRLABEL_SENSITIVE_DAILY_HOURS",
    "FAIRLABEL_SENSITIVE_STREAK",
    "FAIRLABEL_COOLDOWN_MINUTES",
    "FAIRLABEL_ASSIGNMENT_MINUTES",
    "FAIRLABEL_REPRICE_AFTER",
    "FAIRLABEL_APPEAL_DAYS",
    "FAIRLABEL_AUTO_APPROVE_DAYS",
)
INTEGER_POLICIES = frozenset(
    {
        "FAIRLABEL_SENSITIVE_STREAK",
        "FAIRLABEL_REPRICE_AFTER",
        "FAIRLABEL_APPEAL_DAYS",
        "FAIRLABEL_AUTO_APPROVE_DAYS",
    }
)


# SOURCES.md, kept once: where each protective rule's default comes from, by the rule's anchor on
# the rules page. The rules page (each app's rule section), the provenance record of an export and
# the public fairness card all read their sources from here.
RULE_SOURCES: dict[str, Any] = {
    "fair-pay-floor": _lazy("Prolific's recommended minimum (£9 / $12 per hour)."),
    "price-check": _lazy(
        "Prolific (pay checked against the median completion time, top-ups required)."
    ),
    "rejections": _lazy(
        "Fairwork Principle 1.1 (clear rejection process); EU Platform Work Directive "
        "2024/2831 Art. 11 (review within two weeks); Prolific (auto-approval)."
    ),
    "working-time": _lazy(
        "Partnership on AI Data Enrichment Sourcing Guidelines 1 (paid time covers the task "
        "and its associated activities); the idle threshold is Fairlabel's own measure."
    ),
    "breaks": _lazy(
        "UK HSE display-screen guidance; TUC (15 min after 45); French Code du travail "
        "L3121-16 (20 min at 6 h); EU Directive 2003/88/EC Art. 4."
    ),
    "daily-limit": _lazy("ILO Conventions C1 and C30; EU Directive 2003/88/EC."),
    "weekly-limit": _lazy("ILO Conventions C1 and C30; EU Directive 2003/88/EC Art. 6."),
    "rest": _lazy("EU Directive 2003/88/EC Art. 3."),
    "day-off": _lazy("EU Directive 2003/88/EC Art. 5."),
    "consent": _lazy(
        "Fairwork (risks flagged before a job is accepted); Prolific (content warnings)."
    ),
    "exposure-caps": _lazy(
        "YouTube's 2018 limit of 4 hours a day for moderators (company practice; no "
        "public standard sets a number)."
    ),
    "cool-down": _lazy("DIS 2024 study on interleaving neutral material; HSE change of activity."),
    "recovery": _lazy(
        "Scola v. Facebook settlement 2020; EU Platform Work Directive Art. 7 (no "
        "processing of emotional or psychological state)."
    ),
}

# The policy values that concern pay, working time and exposure, as a provenance record and the
# fairness card state them: (the rule it sets on the rules page, what it measures, and the key of
# its source above when it is not the rule's own).
# (The session timeout and the assignment lifetime are operational, not protections.)
PROVENANCE_POLICIES: dict[str, tuple[Any, ...]] = {
    "FAIRLABEL_FLOOR_HOURLY": ("fair-pay-floor", _lazy("Hourly pay floor")),
    "FAIRLABEL_REPRICE_AFTER": (
        "fair-pay-floor",
        _lazy("Measured annotations before the price is checked against the floor"),
        "price-check",
    ),
    "FAIRLABEL_APPEAL_DAYS": ("rejections", _lazy("Days within which a person decides an appeal")),
    "FAIRLABEL_AUTO_APPROVE_DAYS": (
        "rejections",
        _lazy("Days after which work not reviewed is approved"),
    ),
    "FAIRLABEL_IDLE_SECONDS": ("working-time", _lazy("Pause not counted as work (seconds)")),
    "FAIRLABEL_BREAK_AFTER_MINUTES": ("breaks", _lazy("Continuous work before a break (minutes)")),
    "FAIRLABEL_BREAK_MINUTES": ("breaks", _lazy("Paid break (minutes)")),
    "FAIRLABEL_SENSITIVE_BREAK_AFTER_MINUTES": (
        "breaks",
        _lazy("Sensitive work before a break (minutes)"),
    ),
    "FAIRLABEL_SENSITIVE_BREAK_MINUTES": (
        "breaks",
        _lazy("Paid break after sensitive work (minutes)"),
    ),
    "FAIRLABEL_LONG_BREAK_AT_HOURS": (
        "breaks",
        _lazy("Working day that earns a long break (hours)"),
    ),
    "FAIRLABEL_LONG_BREAK_MINUTES": ("breaks", _lazy("Long paid break (minutes)")),
    "FAIRLABEL_DAILY_HOURS": ("daily-limit", _lazy("Working hours a day")),
    "FAIRLABEL_WEEKLY_HOURS": ("weekly-limit", _lazy("Working hours a week")),
    "FAIRLABEL_REST_HOURS": ("rest", _lazy("Rest between working days (hours)")),
    "FAIRLABEL_SENSITIVE_DAILY_HOURS": (
        "exposure-caps",
        _lazy("Sensitive content a day, in total (hours)"),
    ),
    "FAIRLABEL_SENSITIVE_STREAK": (
        "cool-down",
        _lazy("Sensitive items in a row before a cool-down"),
    ),
    "FAIRLABEL_COOLDOWN_MINUTES": ("cool-down", _lazy("Cool-down (minutes)")),
}


def policies_in_force(policies: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """The pay, time and exposure policies in force, each with its value, the rule it sets and
    that rule's source (plain strings, in the active language)."""
    values = policy_values() if policies is None else policies
    found = []
    for name, (anchor, label, *source) in PROVENANCE_POLICIES.items():
        found.append(
            {
                "name": name,
                "value": str(values[name]),
                "label": str(label),
                "rule": anchor,
                "source": str(RULE_SOURCES[source[0] if source else anchor]),
            }
        )
    return found


def policy_coerce(name: str, raw: str | Decimal | int) -> Decimal | int:
    """A policy value from text, refused with a clear error when it is not a number >= 0."""
    from decimal import InvalidOperation

    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0 or value > 10**6:
        raise DomainError("invalid_policy", _("A policy value must be a number from 0 to 1000000."))
    if name in INTEGER_POLICIES:
        if value != value.to_integral_value():
            raise DomainError("invalid_policy", _("This policy takes a whole number."))
        return int(value)
    return value


def policy_values() -> dict[str, Decimal | int]:
    """The policy values in force: the settings, overridden by the admin's rows (one query)."""
    from labeling.models import PolicyOverride

    values: dict[str, Decimal | int] = {name: getattr(settings, name) for name in POLICY_NAMES}
    for name, raw in PolicyOverride.objects.values_list("name", "value"):
        if name in values:
            values[name] = policy_coerce(name, raw)
    return values


def policy_value(name: str) -> Decimal | int:
    from labeling.models import PolicyOverride

    raw = PolicyOverride.objects.filter(name=name).values_list("value", flat=True).first()
    return getattr(settings, name) if raw is None else policy_coerce(name, raw)


# --- the rules page: each app contributes its own ---------------------------------------------


@dataclass(frozen=True)
class RuleDoc:
    """One rule as the rules page shows it: what it says, its parameters, its source, and for a
    signed-in annotator where it stands against it."""

    anchor: str
    title: str
    text: str
    source: str = ""
    standing: str = ""
    codes: tuple[str, ...] = ()  # the refusal codes that link here


def rule_sections() -> tuple[Callable, ...]:
    return _load(tuple(settings.FAIRLABEL_RULE_SECTIONS))  # type: ignore[return-value]


def rules_for(*, user, now: datetime) -> list[RuleDoc]:
    policies = policy_values()
    docs: list[RuleDoc] = []
    for section in rule_sections():
        docs.extend(section(user=user, now=now, policies=policies))
    return docs


def labeling_rules(*, user, now: datetime, policies: dict) -> list[RuleDoc]:
    return [
        RuleDoc(
            "project-open",
            _("Project open"),
            _("Tasks are handed out only while the project is published."),
            codes=("project_closed",),
        ),
        RuleDoc(
            "assignment-expiry",
            _("Assignment expiry"),
            _(
                "A task you were given is held for you for %(m)s minutes, and for as long as "
                "you keep working on it; after that its slot may go to someone else. Work you "
                "submit late is kept all the same."
            )
            % {"m": policies["FAIRLABEL_ASSIGNMENT_MINUTES"]},
        ),
        RuleDoc(
            "skip",
            _("Skipping"),
            _("Skipping a task costs you nothing, and you will not be shown that task again."),
        ),
    ]


# --- labeling's own rules ------------------------------------------------------------------


def project_open_gate(context: DispatchContext) -> Refusal | None:
    """A project serves tasks only while it is published."""
    if context.project.status != "published":
        return Refusal(
            code="project_closed",
            detail=_("This project is not open for labeling."),
            rule="project-open",
        )
    return None


def implied_hourly(*, price_per_task: Decimal, seconds_per_task: int | Decimal) -> Decimal:
    """The hourly rate a piece rate implies: price * 3600 / seconds, to the cent."""
    if not seconds_per_task:
        return Decimal("0.00")
    rate = Decimal(price_per_task) * 3600 / Decimal(seconds_per_task)
    return rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def money_text(amount: Decimal | int) -> str:
    """An amount as the reader writes it ("12.00", "12,00"): messages are read, not parsed."""
    from django.utils.formats import number_format

    return number_format(Decimal(amount), 2)


def publish_has_tasks_check(*, project) -> DomainError | None:
    if not project.tasks.exists():
        return DomainError(
            "no_tasks", _("Import tasks before publishing."), rule=rule_url("project-open")
        )
    return None


def pay_floor(*, user=None, country: str | None = None, highest: bool = False) -> Decimal:
    """The one way labeling reads the hourly pay floor: the function named by
    FAIRLABEL_PAY_FLOOR (payments.policies.floor_hourly: max(global floor, the annotator's
    country floor); with `highest`, the highest floor any annotator is owed)."""
    (read,) = _load((settings.FAIRLABEL_PAY_FLOOR,))
    return read(user=user, country=country, highest=highest)  # type: ignore[operator]


def project_change_hooks() -> tuple[Callable, ...]:
    """Called after an owner changes a project's price or estimate (payments audits it)."""
    return _load(tuple(settings.FAIRLABEL_PROJECT_CHANGE_HOOKS))  # type: ignore[return-value]


def provenance_sections() -> tuple[Callable, ...]:
    """What other apps add to an export's labor-provenance record (pay from the ledger)."""
    return _load(tuple(settings.FAIRLABEL_PROVENANCE_SECTIONS))  # type: ignore[return-value]


def publish_checks() -> tuple[Callable, ...]:
    return _load(tuple(settings.FAIRLABEL_PUBLISH_CHECKS))  # type: ignore[return-value]


def task_access_checks() -> tuple[Callable, ...]:
    return _load(tuple(settings.FAIRLABEL_TASK_ACCESS_CHECKS))  # type: ignore[return-value]


def image_task_allowed(*, user, project, url: str) -> bool:
    """Whether an annotator may see an imported image: it holds or held an assignment of the
    task showing it, and every check named in FAIRLABEL_TASK_ACCESS_CHECKS agrees (the exposure
    rules: consent for the task's categories)."""
    from labeling.models import Assignment

    assignment = (
        Assignment.objects.filter(annotator=user, project=project, task__data__image=url)
        .select_related("task")
        .first()
    )
    if assignment is None:
        return False
    return all(
        check(user=user, project=project, task=assignment.task) for check in task_access_checks()
    )
