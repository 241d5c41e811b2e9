"""Every state change of fair pay, each inside a transaction: floors, funding, settlement,
payouts, reviews and appeals, repricing."""

from __future__ import annotations

import logging
import math
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_UP, Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from fairlabel.errors import DomainError
from labeling.jobs.models import JobStatus
from labeling.jobs.services import LeaseLost, job_claim, job_enqueue
from labeling.models import Annotation, Assignment, Project
from labeling.policies import policy_values
from payments import ledger
from payments.ledger import Movement, floor_pay, money
from payments.models import (
    CountryFloor,
    Entry,
    FloorChange,
    Kind,
    Payout,
    PriceChange,
    Review,
    Settlement,
    SettlementJob,
)
from payments.policies import floor_hourly

logger = logging.getLogger(__name__)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUNDING = Decimal("100000000")


def amount_parse(raw, *, field: str = "amount") -> Decimal:
    """A positive amount of money from text: a clear 400 otherwise, never a float."""
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        value = Decimal("NaN")
    if not value.is_finite() or value <= 0 or value > MAX_FUNDING:
        raise DomainError(
            "invalid_amount", _('Give a positive amount, such as "250.00".'), field=field
        )
    if value != value.quantize(ledger.CENT):
        raise DomainError("invalid_amount", _("Amounts are in cents at most."), field=field)
    return value.quantize(ledger.CENT)


# --- floors ------------------------------------------------------------------------------------


def floor_set(*, country: str, hourly, changed_by, now: datetime | None = None) -> None:
    """Set (or with `hourly` None, remove) a country's floor, with its audit row."""
    now = now or timezone.now()
    country = (country or "").strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise DomainError("invalid_country", _("A country is its two-letter ISO code."))
    value = None if hourly in (None, "") else amount_parse(hourly, field="hourly")
    with transaction.atomic():
        row = CountryFloor.objects.select_for_update().filter(country=country).first()
        old = row.hourly if row is not None else None
        if old == value:
            return
        if value is None:
            row.delete()
        elif row is None:
            CountryFloor.objects.create(country=country, hourly=value, updated_at=now)
        else:
            row.hourly, row.updated_at = value, now
            row.save(update_fields=["hourly", "updated_at"])
        FloorChange.objects.create(
            country=country, old_hourly=old, new_hourly=value, changed_by=changed_by, changed_at=now
        )


# --- funding -------------------------------------------------------------------------------


def project_fund(*, project: Project, amount, by=None, now: datetime | None = None) -> Entry:
    """Hold `amount` for the project's pay: a `funding` entry and the budget's slices."""
    now = now or timezone.now()
    value = amount_parse(amount)
    with transaction.atomic():
        # Under the control chain's lock: two fundings at once do not number themselves alike.
        ledger.chain_lock(ledger.CHAIN_CONTROL)
        count = Entry.objects.filter(kind=Kind.FUNDING, project=project).count()
        (entry,) = ledger.append(
            [Movement(Kind.FUNDING, f"project:{project.pk}:{count + 1}", value, project.pk)],
            chain=ledger.CHAIN_CONTROL,
            now=now,
        )
        ledger.shards_credit(project_id=project.pk, amount=value)
    return entry


# --- settlement ----------------------------------------------------------------------------


def settlement_job_create(*, cutoff: datetime | None = None) -> SettlementJob | None:
    """The next period to settle, up to `cutoff` (now by default): from where the last
    settlement ended. A settlement already waiting or running is returned instead, so two
    callers at once get one job. None when there is nothing new to settle."""
    cutoff = cutoff or timezone.now()
    with transaction.atomic():
        ledger.chain_lock(ledger.CHAIN_SETTLEMENT)  # one creator at a time
        active = SettlementJob.objects.filter(
            status__in=(JobStatus.PENDING, JobStatus.RUNNING)
        ).first()
        if active is not None:
            return active
        last = (
            SettlementJob.objects.filter(status=JobStatus.DONE)
            .order_by("-period_end")
            .values_list("period_end", flat=True)
            .first()
        )
        start = last or EPOCH
        if cutoff <= start:
            return None
        job = SettlementJob.objects.create(period_start=start, period_end=cutoff)
        job_enqueue(job=job)
    return job


def settlement_job_run(*, job_id: int) -> SettlementJob | None:
    """Settle one period, all of it in one transaction: a run killed midway leaves nothing, and
    running it again writes the same entries (each unique per kind and reference)."""
    claim = job_claim(model=SettlementJob, job_id=job_id)
    if claim is None:
        return SettlementJob.objects.filter(pk=job_id).first()
    job = claim.job
    try:
        with claim.heartbeat(), transaction.atomic():
            outcome = settle_period(job=job)
            return claim.finish(status=JobStatus.DONE, **outcome)
    except LeaseLost:
        logger.warning("settlement %s: lease taken over; this run was rolled back", job.pk)
        return SettlementJob.objects.filter(pk=job_id).first()
    except Exception:
        claim.fail(message="internal error")
        raise


def settle_now(*, cutoff: datetime | None = None) -> SettlementJob | None:
    """`manage.py settle`: create the next period's job and run it here."""
    job = settlement_job_create(cutoff=cutoff)
    if job is None:
        return None
    return settlement_job_run(job_id=job.pk)


def _split(total: Decimal, weights: dict, *, fallback=None) -> dict:
    """`total` in cents over the keys in proportion to their weights; the cents lost to rounding
    go to the largest share, so the parts always sum to the total."""
    if total <= 0:
        return {}
    weight_sum = sum(weights.values(), Decimal(0))
    if weight_sum <= 0:
        return {fallback: total}
    parts = {k: money(total * w / weight_sum) for k, w in weights.items() if w > 0}
    drift = total - sum(parts.values(), Decimal(0))
    if drift:
        biggest = max(parts, key=lambda k: (weights[k], str(k)))
        parts[biggest] += drift
    return {k: v for k, v in parts.items() if v != 0}


def settle_period(*, job: SettlementJob) -> dict:
    """Per annotator and project over [start, end): paid time (active + instructions + breaks),
    piece pay, floor pay = floor x paid hours, top-up = max(0, floor pay - piece pay), charged
    to the projects in proportion to their time. Called inside the job's transaction."""
    from accounts.models import Profile
    from workers.models import Break, WorkSpan

    start, end = job.period_start, job.period_end
    ledger.chain_lock(ledger.CHAIN_SETTLEMENT)
    active: dict[int, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for annotator_id, project_id, seconds in (
        Assignment.objects.filter(
            finished_at__gte=start,
            finished_at__lt=end,
            status__in=(
                Assignment.Status.SUBMITTED,
                Assignment.Status.SKIPPED,
                Assignment.Status.EXPIRED,
            ),
        )
        .values_list("annotator_id", "project_id")
        .annotate(s=Sum("active_seconds"))
        .iterator(chunk_size=5000)
    ):
        active[annotator_id][project_id] += seconds or 0
    instructions: dict[int, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for annotator_id, project_id, seconds in (
        WorkSpan.objects.filter(
            kind=WorkSpan.Kind.INSTRUCTIONS, ended_at__gte=start, ended_at__lt=end
        )
        .values_list("annotator_id", "project_id")
        .annotate(s=Sum("seconds"))
        .iterator(chunk_size=5000)
    ):
        instructions[annotator_id][project_id] += seconds or 0
    breaks: dict[int, Decimal] = {
        annotator_id: seconds or Decimal(0)
        for annotator_id, seconds in Break.objects.filter(started_at__gte=start, started_at__lt=end)
        .values_list("annotator_id")
        .annotate(s=Sum("paid_seconds"))
        .iterator(chunk_size=5000)
    }
    piece: dict[int, dict[int | None, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for annotator_id, project_id, total in (
        Entry.objects.filter(
            annotator__isnull=False,
            created_at__gte=start,
            created_at__lt=end,
            kind__in=(Kind.TASK_PAY, Kind.TIME_PAY, Kind.REJECTION_FLOOR_PAY, Kind.ADJUSTMENT),
        )
        .values_list("annotator_id", "project_id")
        .annotate(t=Sum("amount"))
        .iterator(chunk_size=5000)
    ):
        piece[annotator_id][project_id] += total
    people = set(active) | set(instructions) | set(breaks) | set(piece)
    policies = policy_values()
    base = floor_hourly(policies=policies)
    countries = (
        dict(Profile.objects.filter(user_id__in=people).values_list("user_id", "country"))
        if len(people) < 50000
        else dict(Profile.objects.values_list("user_id", "country"))
    )
    country_floor = dict(CountryFloor.objects.values_list("country", "hourly"))

    movements: list[Movement] = []
    rows: list[Settlement] = []
    charges: dict[int, Decimal] = defaultdict(Decimal)
    tag = f"settle:{job.pk}"
    for annotator_id in sorted(people):
        floor = max(base, country_floor.get((countries.get(annotator_id) or "").upper(), base))
        act = active.get(annotator_id, {})
        ins = instructions.get(annotator_id, {})
        brk = breaks.get(annotator_id, Decimal(0))
        pie = piece.get(annotator_id, {})
        projects = set(act) | set(ins) | set(pie)
        work_weights = {p: act.get(p, Decimal(0)) + ins.get(p, Decimal(0)) for p in projects}
        instr_pay = {p: floor_pay(floor, s) for p, s in ins.items() if s > 0}
        last_project = max(work_weights, key=lambda p: (work_weights[p], p or 0), default=None)
        break_pay = _split(floor_pay(floor, brk), work_weights, fallback=last_project)
        paid_seconds = sum(act.values(), Decimal(0)) + sum(ins.values(), Decimal(0)) + brk
        owed = floor_pay(floor, paid_seconds, up=True)
        earned = (
            sum(pie.values(), Decimal(0))
            + sum(instr_pay.values(), Decimal(0))
            + sum(break_pay.values(), Decimal(0))
        )
        topup = _split(max(Decimal(0), owed - earned), work_weights, fallback=last_project)
        for kind, parts in (
            (Kind.INSTRUCTIONS_PAY, instr_pay),
            (Kind.BREAK_PAY, break_pay),
            (Kind.FLOOR_TOPUP, topup),
        ):
            for project_id, amount in sorted(parts.items(), key=lambda kv: kv[0] or 0):
                if amount <= 0:
                    continue
                movements.append(
                    Movement(
                        kind, f"{tag}:{annotator_id}:{project_id}", amount, project_id, annotator_id
                    )
                )
                if project_id is not None:
                    charges[project_id] += amount
        for project_id in sorted(projects | set(break_pay) | set(topup), key=lambda p: p or 0):
            rows.append(
                Settlement(
                    job=job,
                    annotator_id=annotator_id,
                    project_id=project_id,
                    active_seconds=act.get(project_id, Decimal(0)),
                    instructions_seconds=ins.get(project_id, Decimal(0)),
                    break_seconds=_share_seconds(brk, work_weights, project_id, last_project),
                    floor_hourly=floor,
                    piece_pay=pie.get(project_id, Decimal(0)),
                    instructions_pay=instr_pay.get(project_id, Decimal(0)),
                    break_pay=break_pay.get(project_id, Decimal(0)),
                    topup=topup.get(project_id, Decimal(0)),
                )
            )
    entries = ledger.append(
        movements, chain=ledger.CHAIN_SETTLEMENT, now=job.period_end, skip_existing=True
    )
    Settlement.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    # Last, so the budget slices are locked only for a moment.
    written = defaultdict(Decimal)
    for entry in entries:
        if entry.project_id is not None:
            written[entry.project_id] += entry.amount
    for project_id in sorted(written):
        ledger.shards_credit(project_id=project_id, amount=-written[project_id])
    reprice_all()
    return {"annotators": len(people), "entries": len(entries)}


def _share_seconds(total: Decimal, weights: dict, key, fallback) -> Decimal:
    weight_sum = sum(weights.values(), Decimal(0))
    if total <= 0:
        return Decimal(0)
    if weight_sum <= 0:
        return total if key == fallback else Decimal(0)
    return (total * weights.get(key, Decimal(0)) / weight_sum).quantize(Decimal("0.001"))


# --- payouts -------------------------------------------------------------------------------


def annotator_balance(annotator_id: int) -> Decimal:
    total = (
        Entry.objects.filter(annotator_id=annotator_id)
        .exclude(kind__in=(Kind.RESERVATION, Kind.RELEASE))
        .aggregate(t=Sum("amount"))["t"]
    )
    return money(total or Decimal(0))


def payout_request(*, annotator, amount=None, now: datetime | None = None) -> Payout:
    """Ask to be paid (the whole balance by default): above FAIRLABEL_PAYOUT_MINIMUM and at most
    the balance. The `payout` entry is written at once."""
    now = now or timezone.now()
    minimum = Decimal(settings.FAIRLABEL_PAYOUT_MINIMUM)
    with transaction.atomic():
        # The annotator's chain head serialises its own payouts: no two can spend one balance.
        ledger.chain_lock(ledger.chain_of(annotator.pk))
        balance = annotator_balance(annotator.pk)
        value = balance if amount in (None, "") else amount_parse(amount)
        if value > balance:
            raise DomainError(
                "insufficient_balance",
                _("Your balance is %(b)s %(c)s.")
                % {"b": balance, "c": settings.FAIRLABEL_CURRENCY},
                balance=str(balance),
            )
        if value < minimum or value <= 0:
            raise DomainError(
                "below_minimum",
                _("A payout must be at least %(m)s %(c)s.")
                % {"m": minimum, "c": settings.FAIRLABEL_CURRENCY},
                minimum=str(minimum),
            )
        payout = Payout.objects.create(
            annotator=annotator,
            amount=value,
            currency=settings.FAIRLABEL_CURRENCY,
            requested_at=now,
        )
        ledger.append(
            [Movement(Kind.PAYOUT, f"payout:{payout.pk}", -value, None, annotator.pk)],
            chain=ledger.chain_of(annotator.pk),
            now=now,
        )
    return payout


def payouts_mark_paid(*, ids: list[int], by, reference: str = "", now=None) -> int:
    now = now or timezone.now()
    with transaction.atomic():
        return Payout.objects.filter(pk__in=ids, status=Payout.Status.PENDING).update(
            status=Payout.Status.PAID, paid_at=now, paid_by=by, provider_reference=reference[:120]
        )


# --- reviews, rejections and appeals ------------------------------------------------------


def _annotation_of_owner(*, user, annotation_id: int) -> Annotation:
    from accounts.roles import Role, role_of

    annotation = (
        Annotation.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(pk=annotation_id)
        .first()
    )
    if annotation is None:
        raise DomainError("not_found", _("No such annotation."), status=404)
    if annotation.project.owner_id != user.pk and role_of(user) != Role.ADMIN:
        raise DomainError("not_found", _("No such annotation."), status=404)
    return annotation


def annotation_approve(*, user, annotation_id: int, now=None) -> Review:
    now = now or timezone.now()
    with transaction.atomic():
        annotation = _annotation_of_owner(user=user, annotation_id=annotation_id)
        review = Review.objects.filter(annotation=annotation).first()
        if review is not None:
            raise DomainError("already_reviewed", _("This work was already reviewed."), status=409)
        return Review.objects.create(
            annotation=annotation,
            project=annotation.project,
            status=Review.Status.APPROVED,
            reviewed_by=user,
            reviewed_at=now,
        )


def annotation_reject(*, user, annotation_id: int, reason: str, now=None) -> Review:
    """Reject with a written reason. The piece price is taken back and the work is paid at the
    floor for its measured time instead (never less than that)."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise DomainError(
            "reason_required",
            _("Say why in a sentence the annotator can learn from (10 characters at least)."),
            field="reason",
        )
    with transaction.atomic():
        annotation = _annotation_of_owner(user=user, annotation_id=annotation_id)
        if Review.objects.filter(annotation=annotation).exists():
            raise DomainError("already_reviewed", _("This work was already reviewed."), status=409)
        review = Review.objects.create(
            annotation=annotation,
            project=annotation.project,
            status=Review.Status.REJECTED,
            reason=reason[:5000],
            reviewed_by=user,
            reviewed_at=now,
        )
        paid = Entry.objects.filter(
            kind=Kind.TASK_PAY, reference=f"assignment:{annotation.assignment_id}"
        ).values_list("amount", flat=True).first() or Decimal(0)
        floor = floor_hourly(user=annotation.annotator)
        at_floor = floor_pay(floor, annotation.seconds, up=True)
        project_id, annotator_id = annotation.project_id, annotation.annotator_id
        movements = [
            Movement(Kind.ADJUSTMENT, f"reject:{annotation.pk}", -paid, project_id, annotator_id),
            Movement(
                Kind.REJECTION_FLOOR_PAY,
                f"annotation:{annotation.pk}",
                at_floor,
                project_id,
                annotator_id,
            ),
        ]
        topup = _rejection_topup(review=review, annotation=annotation, net=paid - at_floor)
        if topup > 0:
            movements.append(
                Movement(
                    Kind.FLOOR_TOPUP, f"reject:{annotation.pk}", topup, project_id, annotator_id
                )
            )
        ledger.append(movements, chain=ledger.CHAIN_CONTROL, now=now)
        ledger.shards_credit(project_id=project_id, amount=paid - at_floor - topup)
    return review


def _rejection_topup(*, review: Review, annotation: Annotation, net: Decimal) -> Decimal:
    """When the rejected work's period is already settled, take back no more than that period
    paid above the floor (after earlier rejections in it): the rest stays paid, as a top-up."""
    if net <= 0:
        return Decimal(0)
    finished = (
        Assignment.objects.filter(pk=annotation.assignment_id)
        .values_list("finished_at", flat=True)
        .first()
    )
    job = (
        SettlementJob.objects.filter(
            status=JobStatus.DONE, period_start__lte=finished, period_end__gt=finished
        ).first()
        if finished is not None
        else None
    )
    if job is None:
        review.clawback = net
        review.save(update_fields=["clawback"])
        return Decimal(0)
    rows = Settlement.objects.filter(job=job, annotator_id=annotation.annotator_id)
    paid_total, owed = Decimal(0), Decimal(0)
    for row in rows:
        paid_total += row.piece_pay + row.instructions_pay + row.break_pay + row.topup
        owed += Decimal(row.floor_hourly) * row.paid_seconds / 3600
    earlier = Review.objects.filter(
        settled_job=job, annotation__annotator_id=annotation.annotator_id
    ).exclude(pk=review.pk).aggregate(t=Sum("clawback"))["t"] or Decimal(0)
    surplus = max(Decimal(0), paid_total - money(owed, up=True) - earlier)
    taken = min(net, surplus)
    review.settled_job, review.clawback = job, taken
    review.save(update_fields=["settled_job", "clawback"])
    return net - taken


def appeal_submit(*, annotator, annotation_id: int, text: str, now=None) -> Review:
    now = now or timezone.now()
    text = (text or "").strip()
    if not text:
        raise DomainError("appeal_required", _("Say why the rejection is wrong."), field="text")
    with transaction.atomic():
        review = (
            Review.objects.select_for_update()
            .filter(annotation_id=annotation_id, annotation__annotator=annotator)
            .first()
        )
        if review is None:
            raise DomainError("not_found", _("No such rejected work of yours."), status=404)
        if review.status != Review.Status.REJECTED:
            raise DomainError(
                "not_appealable", _("Only a rejection can be appealed, once."), status=409
            )
        days = int(policy_values()["FAIRLABEL_APPEAL_DAYS"])
        review.status = Review.Status.APPEALED
        review.appeal, review.appealed_at = text[:5000], now
        review.appeal_deadline = now + timedelta(days=days)
        review.save(update_fields=["status", "appeal", "appealed_at", "appeal_deadline"])
    return review


def appeal_decide(*, user, annotation_id: int, overturn: bool, note: str, now=None) -> Review:
    """A person decides: overturned gives the price back; upheld leaves the floor pay."""
    now = now or timezone.now()
    note = (note or "").strip()
    if not note:
        raise DomainError(
            "note_required", _("Explain the decision to the annotator."), field="note"
        )
    with transaction.atomic():
        annotation = _annotation_of_owner(user=user, annotation_id=annotation_id)
        review = Review.objects.select_for_update().filter(annotation=annotation).first()
        if review is None or review.status != Review.Status.APPEALED:
            raise DomainError(
                "not_appealed", _("There is no open appeal on this work."), status=409
            )
        review.status = Review.Status.OVERTURNED if overturn else Review.Status.UPHELD
        review.decision_note, review.decided_by, review.decided_at = note[:5000], user, now
        review.save(update_fields=["status", "decision_note", "decided_by", "decided_at"])
        if overturn:
            taken = -(
                Entry.objects.filter(kind=Kind.ADJUSTMENT, reference=f"reject:{annotation.pk}")
                .values_list("amount", flat=True)
                .first()
                or Decimal(0)
            )
            if taken:
                ledger.append(
                    [
                        Movement(
                            Kind.ADJUSTMENT,
                            f"appeal:{annotation.pk}",
                            taken,
                            annotation.project_id,
                            annotation.annotator_id,
                        )
                    ],
                    chain=ledger.CHAIN_CONTROL,
                    now=now,
                )
                ledger.shards_credit(project_id=annotation.project_id, amount=-taken)
    return review


def reviews_auto_approve(*, now=None, batch: int = 5000) -> int:
    """Approve work nobody reviewed within FAIRLABEL_AUTO_APPROVE_DAYS. Idempotent."""
    now = now or timezone.now()
    days = int(policy_values()["FAIRLABEL_AUTO_APPROVE_DAYS"])
    cutoff = now - timedelta(days=days)
    done = 0
    while True:
        with transaction.atomic():
            rows = list(
                Annotation.objects.filter(created_at__lte=cutoff, review__isnull=True).values_list(
                    "pk", "project_id"
                )[:batch]
            )
            if not rows:
                return done
            Review.objects.bulk_create(
                [
                    Review(
                        annotation_id=pk,
                        project_id=project_id,
                        status=Review.Status.APPROVED,
                        reviewed_at=now,
                    )
                    for pk, project_id in rows
                ],
                ignore_conflicts=True,
            )
            done += len(rows)


# --- repricing -----------------------------------------------------------------------------

MEASURED_WINDOW = 1000


def project_reprice(*, project: Project, now=None) -> PriceChange | None:
    """After FAIRLABEL_REPRICE_AFTER measured annotations the median measured time replaces the
    estimate; if the implied rate is then under the floor, the price rises to meet it. Each
    change is recorded with its reason, which the owner sees."""
    now = now or timezone.now()
    policies = policy_values()
    needed_count = int(policies["FAIRLABEL_REPRICE_AFTER"])
    with transaction.atomic():
        locked = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
        measured = list(
            Annotation.objects.filter(project=locked, is_extra=False, seconds__gt=0)
            .order_by("-id")
            .values_list("seconds", flat=True)[:MEASURED_WINDOW]
        )
        if len(measured) < max(needed_count, 1):
            return None
        median = statistics.median(measured)
        seconds = max(1, math.ceil(median))
        floor = floor_hourly(highest=True, policies=policies)
        price = Decimal(locked.price_per_task)
        needed = (floor * seconds / 3600).quantize(ledger.CENT, rounding=ROUND_UP)
        new_price = max(price, needed)
        if seconds == locked.estimated_seconds_per_task and new_price == price:
            return None
        if new_price > price:
            reason = _(
                "The median measured time of %(n)d annotations is %(s)d s, not the %(e)d s "
                "estimated: at %(p)s per task that is under the floor of %(f)s an hour, so the "
                "price rose to %(np)s."
            )
        else:
            reason = _(
                "The median measured time of %(n)d annotations is %(s)d s: it replaces the "
                "estimate of %(e)d s. The price (%(p)s) stays above the floor of %(f)s an hour."
            )
        reason = reason % {
            "n": len(measured),
            "s": seconds,
            "e": locked.estimated_seconds_per_task,
            "p": price,
            "f": floor,
            "np": new_price,
        }
        change = PriceChange.objects.create(
            project=locked,
            old_price=price,
            new_price=new_price,
            old_seconds=locked.estimated_seconds_per_task,
            new_seconds=seconds,
            measured_annotations=len(measured),
            reason=reason,
            automatic=True,
            changed_at=now,
        )
        Project.objects.filter(pk=locked.pk).update(
            price_per_task=new_price, estimated_seconds_per_task=seconds
        )
    return change


def reprice_all(*, now=None) -> int:
    """Every published project with enough measured work: run inside settlement and by beat."""
    changed = 0
    needed = int(policy_values()["FAIRLABEL_REPRICE_AFTER"])
    for project in Project.objects.filter(status=Project.Status.PUBLISHED).only("pk").iterator():
        measured = Annotation.objects.filter(project=project, is_extra=False, seconds__gt=0)
        if measured[: max(needed, 1)].count() < max(needed, 1):
            continue
        if project_reprice(project=project, now=now) is not None:
            changed += 1
    return changed


# --- worker voice ------------------------------------------------------------------------------


def voice_message_send(
    *, annotator, project_id: int, topic: str, text: str, now: datetime | None = None
) -> date:
    """Store an annotator's anonymous message to the auditors about a project; returns the week
    it is filed under (the only time kept). At most FAIRLABEL_VOICE_PER_WEEK per annotator and
    ISO week, counted apart from the messages (`VoiceQuota`). What is stored and what is not:
    `payments.models.VoiceMessage`."""
    from accounts.roles import Role, role_of
    from payments.models import VOICE_TEXT_MAX, VoiceMessage, VoiceQuota, VoiceTopic
    from payments.policies import voice_per_week, voice_project, voice_week

    if role_of(annotator) != Role.ANNOTATOR:
        raise DomainError("forbidden", _("Only annotators send these messages."), status=403)
    project = voice_project(annotator=annotator, project_id=project_id)
    if topic not in VoiceTopic.values:
        raise DomainError("invalid_topic", _("Choose one of the topics."), field="topic")
    text = (text or "").strip()
    if not text:
        raise DomainError("invalid_text", _("Write the message first."), field="text")
    if len(text) > VOICE_TEXT_MAX:
        raise DomainError(
            "invalid_text",
            _("A message holds at most %(n)d characters.") % {"n": VOICE_TEXT_MAX},
            field="text",
        )
    week = voice_week(now or timezone.now())
    limit = voice_per_week()
    with transaction.atomic():
        # Last week's counters have done their work: once gone they tie no one to anything.
        VoiceQuota.objects.filter(week__lt=week).delete()
        quota, _created = VoiceQuota.objects.select_for_update().get_or_create(
            annotator=annotator, week=week
        )
        if quota.count >= limit:
            raise DomainError(
                "voice_limit",
                _(
                    "You have sent %(n)d messages this week, the most a week allows. "
                    "You can write again from Monday."
                )
                % {"n": quota.count},
                status=429,
                until=datetime.combine(week + timedelta(days=7), datetime.min.time(), tzinfo=UTC),
            )
        quota.count += 1
        quota.save(update_fields=["count"])
        message = VoiceMessage(project=project, week=week, topic=topic, text=text)
        message.full_clean()
        message.save(force_insert=True)
    return week
