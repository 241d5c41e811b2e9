"""The dispatcher's rule protocol and labeling's own rules.

A gate is a callable named in FAIRLABEL_DISPATCH_GATES:
    gate(*, annotator, project, now) -> Refusal | Restriction | None
A refusal stops the dispatcher with its code, rule and "until"; a restriction narrows which tasks
may be served. Other apps (working time, exposure, budget) plug in here without touching the
dispatcher. Hooks named in FAIRLABEL_ASSIGNMENT_HOOKS are objects (classes or modules) with any
of `served(assignment, now)`, `submitted(annotation, now)`, `skipped(assignment, now)` and
`expired(assignments, now)`, called inside the dispatcher's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from functools import cache

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from fairlabel.errors import DomainError


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str
    rule: str
    until: datetime | None = None

    def as_error(self) -> DomainError:
        return DomainError(
            self.code, self.detail, status=409, until=self.until, rule=rule_url(self.rule)
        )


@dataclass(frozen=True)
class Restriction:
    """Narrows what may be served. `sensitive_allowed=False`: only tasks with no category."""

    sensitive_allowed: bool = True

    def combine(self, other: Restriction) -> Restriction:
        return Restriction(sensitive_allowed=self.sensitive_allowed and other.sensitive_allowed)


def rule_url(anchor: str) -> str:
    return f"{reverse('labeling:rules')}#{anchor}"


@cache
def _load(paths: tuple[str, ...]) -> tuple[Callable | object, ...]:
    return tuple(import_string(path) for path in paths)


def dispatch_gates() -> tuple[Callable, ...]:
    return _load(tuple(settings.FAIRLABEL_DISPATCH_GATES))  # type: ignore[return-value]


def assignment_hooks() -> tuple[object, ...]:
    return _load(tuple(settings.FAIRLABEL_ASSIGNMENT_HOOKS))


def hooks_call(event: str, *args: object) -> None:
    for hook in assignment_hooks():
        handler = getattr(hook, event, None)
        if handler is not None:
            handler(*args)


def gates_check(
    *, annotator, project, now: datetime, gates: Iterable[Callable] | None = None
) -> Restriction:
    """Run every gate in order; raise the first refusal, else return the combined restriction."""
    restriction = Restriction()
    for gate in dispatch_gates() if gates is None else gates:
        outcome = gate(annotator=annotator, project=project, now=now)
        if isinstance(outcome, Refusal):
            raise outcome.as_error()
        if isinstance(outcome, Restriction):
            restriction = restriction.combine(outcome)
    return restriction


# --- labeling's own rules ------------------------------------------------------------------


def project_open_gate(*, annotator, project, now: datetime) -> Refusal | None:
    """A project serves tasks only while it is published."""
    if project.status != "published":
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


def publish_rate_check(*, project) -> DomainError | None:
    """A project whose implied hourly rate is under the floor cannot be published."""
    floor = settings.FAIRLABEL_FLOOR_HOURLY
    exact = Decimal(project.price_per_task) * 3600 / Decimal(project.estimated_seconds_per_task)
    if exact >= floor:
        return None
    # Shown rounded down: a rate just under the floor never reads as equal to it.
    shown = exact.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    needed = (floor * project.estimated_seconds_per_task / 3600).quantize(
        Decimal("0.01"), rounding=ROUND_UP
    )
    return DomainError(
        "below_floor",
        _(
            "The implied rate %(rate)s %(cur)s/h is under the floor of %(floor)s %(cur)s/h: "
            "raise the price to at least %(needed)s per task."
        )
        % {"rate": shown, "cur": project.currency, "floor": floor, "needed": needed},
        rule=rule_url("fair-pay-floor"),
        implied_hourly=str(shown),
        floor_hourly=str(floor),
    )


def publish_has_tasks_check(*, project) -> DomainError | None:
    if not project.tasks.exists():
        return DomainError(
            "no_tasks", _("Import tasks before publishing."), rule=rule_url("project-open")
        )
    return None


def publish_checks() -> tuple[Callable, ...]:
    return _load(tuple(settings.FAIRLABEL_PUBLISH_CHECKS))  # type: ignore[return-value]
