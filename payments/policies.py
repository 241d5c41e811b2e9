"""Fair pay's rules: the floor, the budget gate and the dispatcher hooks that turn reservations
into pay, the publish checks, and the rules page's fair-pay section.

The floor is read through `floor_hourly` only (labeling reaches it through
`labeling.policies.pay_floor`, named by FAIRLABEL_PAY_FLOOR)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Max, OuterRef, Subquery
from django.http import Http404
from django.utils.translation import gettext as _

from fairlabel.errors import DomainError
from labeling.dispatch import assignment_lifetime
from labeling.policies import (
    RULE_SOURCES,
    DispatchContext,
    Refusal,
    RuleDoc,
    money_text,
    policy_value,
    rule_url,
)
from payments import ledger
from payments.ledger import Movement, floor_pay, money
from payments.models import CountryFloor, Kind, Reservation

# --- the floor ---------------------------------------------------------------------------------


def global_floor(policies: dict | None = None) -> Decimal:
    value = (
        policies["FAIRLABEL_FLOOR_HOURLY"]
        if policies is not None
        else policy_value("FAIRLABEL_FLOOR_HOURLY")
    )
    return Decimal(value).quantize(ledger.CENT)


def floor_hourly(
    *, user=None, country: str | None = None, highest: bool = False, policies: dict | None = None
) -> Decimal:
    """The hourly floor: max(global floor, the floor of the annotator's country). With
    `highest`, the highest floor any annotator of this deployment is owed (what a project open
    to all of them must pay at least)."""
    floor = global_floor(policies)
    if highest:
        from accounts.models import Profile
        from accounts.roles import Role

        countries = Profile.objects.filter(user__groups__name=Role.ANNOTATOR.value).values(
            "country"
        )
        top = CountryFloor.objects.filter(country__in=countries).aggregate(m=Max("hourly"))["m"]
        return max(floor, Decimal(top or floor)).quantize(ledger.CENT)
    if country is None and user is not None:
        from accounts.models import Profile

        country = Profile.objects.filter(user_id=user.pk).values_list("country", flat=True).first()
    if country:
        row = CountryFloor.objects.filter(country=country.upper()).values_list("hourly", flat=True)
        own = row.first()
        if own is not None:
            return max(floor, Decimal(own)).quantize(ledger.CENT)
    return floor


def context_floor(context: DispatchContext) -> Decimal:
    """The annotator's floor for this request: its country's row read with its profile in one
    query, the global floor from the policies the context already holds."""

    def read() -> Decimal:
        from accounts.models import Profile

        own = (
            Profile.objects.filter(user_id=context.annotator.pk)
            .annotate(
                floor=Subquery(
                    CountryFloor.objects.filter(country=OuterRef("country")).values("hourly")[:1]
                )
            )
            .values_list("floor", flat=True)
            .first()
        )
        floor = global_floor(context.policies)
        return max(floor, Decimal(own)).quantize(ledger.CENT) if own is not None else floor

    return context.memo("payments.floor", read)


def reservation_amount(*, price: Decimal, floor: Decimal) -> Decimal:
    """Worst-case pay of one assignment: its price, plus the floor for its whole time limit."""
    limit = Decimal(assignment_lifetime().total_seconds())
    return money(Decimal(price) + floor * limit / 3600, up=True)


# --- the dispatcher: a gate before the claim, hooks inside it ---------------------------------

BUDGET_RULE = "budget"


def _budget_refusal() -> Refusal:
    return Refusal(
        code="budget",
        detail=_(
            "This project's budget cannot pay for one more task now. Its owner has been told; "
            "the work you already did is paid."
        ),
        rule=BUDGET_RULE,
    )


def budget_gate(context: DispatchContext) -> Refusal | None:
    """Refuse early when no slice of the budget could pay for one more task. The claim's own
    reservation (BudgetHooks.served) decides under concurrency; this only saves a claim that
    could not succeed. A task already held is already paid for."""
    if context.held is not None:
        return None
    need = reservation_amount(price=context.project.price_per_task, floor=context_floor(context))
    total = ledger.budget_available(context.project.pk)
    return None if total >= need else _budget_refusal()


class BudgetHooks:
    """Reservations and pay, in the dispatcher's transaction."""

    @staticmethod
    def served(*, assignment, context: DispatchContext, now: datetime) -> None:
        floor = context_floor(context)
        price = Decimal(context.project.price_per_task)
        amount = reservation_amount(price=price, floor=floor)
        shard = ledger.shard_take(
            project_id=assignment.project_id, amount=amount, prefer=assignment.annotator_id
        )
        if shard is None:
            raise _budget_refusal().as_error()
        Reservation.objects.create(
            assignment_id=assignment.pk,
            project_id=assignment.project_id,
            annotator_id=assignment.annotator_id,
            shard=shard,
            amount=amount,
            price=price,
            floor_hourly=floor,
            created_at=now,
        )
        ledger.append(
            [
                Movement(
                    Kind.RESERVATION,
                    f"assignment:{assignment.pk}",
                    amount,
                    assignment.project_id,
                    assignment.annotator_id,
                )
            ],
            chain=ledger.chain_of(assignment.annotator_id),
            now=now,
        )

    @staticmethod
    def submitted(*, assignment, annotation, context: DispatchContext, now: datetime) -> None:
        _close([assignment], now=now, submitted=True)

    @staticmethod
    def skipped(*, assignment, context: DispatchContext, now: datetime) -> None:
        _close([assignment], now=now)

    @staticmethod
    def expired(*, assignments: list, now: datetime) -> None:
        _close(assignments, now=now)

    @staticmethod
    def released(*, assignment, refusal: Refusal, now: datetime) -> None:
        _close([assignment], now=now)


def _close(assignments: list, *, now: datetime, submitted: bool = False) -> None:
    """Turn each open reservation into pay: the price for a submitted task, the measured time
    at the floor for a skipped, expired or released one. The rest goes back to the budget."""
    ids = [a.pk for a in assignments]
    by_id = {a.pk: a for a in assignments}
    # Closed and read back in one statement (it locks them): no reservation is closed twice.
    table = Reservation._meta.db_table
    marks = ", ".join(["%s"] * len(ids))
    reservations = sorted(
        Reservation.objects.raw(
            f"UPDATE {table} SET closed_at = %s WHERE closed_at IS NULL "  # noqa: S608
            f"AND assignment_id IN ({marks}) RETURNING *",
            [connection.ops.adapt_datetimefield_value(now), *ids],
        ),
        key=lambda r: (r.shard, r.assignment_id),
    )
    per_chain: dict[int, list[Movement]] = {}
    for reservation in reservations:
        assignment = by_id[reservation.assignment_id]
        ref = f"assignment:{assignment.pk}"
        if submitted:
            kind, pay = Kind.TASK_PAY, reservation.price
        else:
            kind = Kind.TIME_PAY
            pay = floor_pay(reservation.floor_hourly, assignment.active_seconds or 0)
        moves = per_chain.setdefault(ledger.chain_of(reservation.annotator_id), [])
        held = reservation.amount
        if pay > held:
            # More work than the time limit allowed for: it is paid all the same, from the
            # project's available funds.
            extra = pay - held
            ledger.shards_credit(project_id=reservation.project_id, amount=-extra)
            moves.append(
                Movement(
                    Kind.RESERVATION,
                    f"{ref}:extra",
                    extra,
                    reservation.project_id,
                    reservation.annotator_id,
                )
            )
            held = pay
        moves.append(Movement(kind, ref, pay, reservation.project_id, reservation.annotator_id))
        rest = held - pay
        if rest > 0:
            ledger.shard_give(
                project_id=reservation.project_id, shard=reservation.shard, amount=rest
            )
            moves.append(
                Movement(Kind.RELEASE, ref, rest, reservation.project_id, reservation.annotator_id)
            )
    for chain in sorted(per_chain):
        ledger.append(per_chain[chain], chain=chain, now=now)


# --- publishing ----------------------------------------------------------------------------


def publish_rate_check(*, project) -> DomainError | None:
    """A project whose implied hourly rate is under the highest floor among the annotators it
    is open to cannot be published."""
    floor = floor_hourly(highest=True)
    exact = Decimal(project.price_per_task) * 3600 / Decimal(project.estimated_seconds_per_task)
    if exact >= floor:
        return None
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
        % {
            "rate": money_text(shown),
            "cur": project.currency,
            "floor": money_text(floor),
            "needed": money_text(needed),
        },
        rule=rule_url("fair-pay-floor"),
        implied_hourly=str(shown),
        floor_hourly=str(floor),
    )


def publish_funded_check(*, project) -> DomainError | None:
    """A project must be funded for at least one task before it is published."""
    need = reservation_amount(price=project.price_per_task, floor=floor_hourly(highest=True))
    available = ledger.budget_available(project.pk)
    if available >= need:
        return None
    return DomainError(
        "not_funded",
        _(
            "Fund the project before publishing: it holds %(have)s %(cur)s, and one task "
            "needs %(need)s %(cur)s held for its pay."
        )
        % {
            "have": money_text(money(available)),
            "need": money_text(need),
            "cur": settings.FAIRLABEL_CURRENCY,
        },
        rule=rule_url(BUDGET_RULE),
        available=str(money(available)),
        needed=str(need),
    )


def price_change_record(*, project, old_price: Decimal, old_seconds: int) -> None:
    """The audit row of an owner's change of price or estimate (FAIRLABEL_PROJECT_CHANGE_HOOKS),
    in the transaction of the change."""
    from django.utils import timezone

    from payments.models import PriceChange

    PriceChange.objects.create(
        project=project,
        old_price=old_price,
        new_price=project.price_per_task,
        old_seconds=old_seconds,
        new_seconds=project.estimated_seconds_per_task,
        reason=_("Changed by the owner."),
        automatic=False,
        changed_at=timezone.now(),
    )


# --- the rules page --------------------------------------------------------------------------


def pay_rules(*, user, now: datetime, policies: dict) -> list[RuleDoc]:
    floor = global_floor(policies)
    cur = settings.FAIRLABEL_CURRENCY
    standing = ""
    if user is not None and getattr(user, "is_authenticated", False):
        own = floor_hourly(user=user, policies=policies)
        standing = _("Your floor: %(f)s %(c)s an hour.") % {"f": money_text(own), "c": cur}
    minutes = policies["FAIRLABEL_ASSIGNMENT_MINUTES"]
    return [
        RuleDoc(
            "fair-pay-floor",
            _("Fair pay floor"),
            _(
                "Every hour you work is paid at least %(f)s %(c)s, or your country's floor if "
                "it is higher: active labeling, reading instructions and breaks alike. At each "
                "settlement, if your piece pay for the period is under the floor for your paid "
                "time, the difference is paid to you as a top-up, charged to the projects. A "
                "project cannot be published if its price implies less than the floor."
            )
            % {"f": money_text(floor), "c": cur},
            source=RULE_SOURCES["fair-pay-floor"],
            standing=standing,
            codes=("below_floor",),
        ),
        RuleDoc(
            BUDGET_RULE,
            _("No unpaid work: funded budgets"),
            _(
                "A project must be funded before it is published. Each task handed out holds "
                "its worst-case pay (its price plus %(m)s minutes at the floor) until it is "
                "submitted, skipped or expires; a skipped or expired task is paid for its "
                "measured time at the floor. When the budget cannot hold one more task, no task "
                "is handed out and the owner is told; work already done is always paid."
            )
            % {"m": minutes},
            codes=("budget", "not_funded"),
        ),
        RuleDoc(
            "rejections",
            _("Rejections and appeals"),
            _(
                "An owner may reject work only with a written reason. Rejected work is still "
                "paid at the floor for its time. You can appeal; a person decides within "
                "%(a)s days. Work not reviewed within %(r)s days is approved."
            )
            % {
                "a": policies["FAIRLABEL_APPEAL_DAYS"],
                "r": policies["FAIRLABEL_AUTO_APPROVE_DAYS"],
            },
            source=RULE_SOURCES["rejections"],
        ),
    ]


# --- worker voice ------------------------------------------------------------------------------


def voice_per_week() -> int:
    """How many anonymous messages an annotator may send the auditors per ISO week."""
    return int(settings.FAIRLABEL_VOICE_PER_WEEK)


def voice_week(now: datetime) -> date:
    """The only time a message keeps: the Monday of its ISO week, in UTC (never the sender's
    time zone, whose Monday would hint where it lives)."""
    from workers.policies import week_of

    return week_of(now.astimezone(UTC).date())


def voice_project(*, annotator, project_id: int):
    """The project an annotator may write to the auditors about: one open to it (published, the
    projects it may work on), or one it worked on that has been paused or closed since. Consent
    to a project's content is not asked: raising a concern must not depend on accepting it."""
    from labeling.selectors import annotator_started, project_for_labeling, projects_visible_to

    project = projects_visible_to(annotator).filter(pk=project_id).first()
    if project is None:
        try:
            project = project_for_labeling(project_id=project_id)
        except Http404:
            project = None
        if project is not None and not annotator_started(annotator=annotator, project=project):
            project = None
    if project is None:
        raise DomainError("not_found", _("No such project open to you."), status=404)
    return project
