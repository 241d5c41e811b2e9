"""Read queries of fair pay: earnings, budgets, payouts. Every figure is a sum of ledger entries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from labeling.jobs.models import JobStatus
from labeling.models import Assignment, Project
from payments import ledger
from payments.ledger import money
from payments.models import (
    PAY_KINDS,
    Entry,
    Kind,
    Payout,
    PriceChange,
    Review,
    Settlement,
    SettlementJob,
)
from payments.policies import floor_hourly, reservation_amount


def last_period_end(now: datetime | None = None) -> datetime:
    """The last UTC midnight: where the daily settlement's period ends."""
    now = now or timezone.now()
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


def next_settlement(now: datetime | None = None) -> datetime:
    return last_period_end(now) + timedelta(days=1, minutes=5)


def last_settled_end() -> datetime | None:
    return (
        SettlementJob.objects.filter(status=JobStatus.DONE)
        .order_by("-period_end")
        .values_list("period_end", flat=True)
        .first()
    )


def earnings_of(*, annotator, limit: int = 200) -> dict[str, Any]:
    """DESIGN.md "Earnings": the annotator's ledger lines and totals. Paid time and the
    effective rate are of settled periods (what the ledger has settled); `unsettled_seconds` is
    the active time since, which the next settlement pays at least at the floor."""
    entries = Entry.objects.filter(annotator=annotator).exclude(
        kind__in=(Kind.RESERVATION, Kind.RELEASE)
    )
    totals = dict(entries.values_list("kind").annotate(t=Sum("amount")))
    earned = sum((totals.get(k, Decimal(0)) for k in PAY_KINDS), Decimal(0)) + totals.get(
        Kind.ADJUSTMENT, Decimal(0)
    )
    balance = earned + totals.get(Kind.PAYOUT, Decimal(0))
    settled = Settlement.objects.filter(annotator=annotator)
    sums = settled.aggregate(
        a=Sum("active_seconds"), i=Sum("instructions_seconds"), b=Sum("break_seconds")
    )
    paid_seconds = sum((v or Decimal(0) for v in sums.values()), Decimal(0))
    cutoff = last_settled_end()
    # What the settled periods paid: piece pay, paid breaks and instructions, and top-ups.
    settled_pay = settled.aggregate(
        p=Sum("piece_pay"), i=Sum("instructions_pay"), b=Sum("break_pay"), t=Sum("topup")
    )
    settled_earned = sum((v or Decimal(0) for v in settled_pay.values()), Decimal(0))
    unsettled = Assignment.objects.filter(annotator=annotator).exclude(
        status=Assignment.Status.OPEN
    )
    if cutoff is not None:
        unsettled = unsettled.filter(finished_at__gte=cutoff)
    unsettled_seconds = unsettled.aggregate(s=Sum("active_seconds"))["s"] or Decimal(0)
    effective = money(settled_earned * 3600 / paid_seconds) if paid_seconds else None
    rows = (
        entries.select_related("project")
        .order_by("-created_at", "-id")
        .values("kind", "amount", "project_id", "project__title", "created_at")[:limit]
    )
    return {
        "currency": settings.FAIRLABEL_CURRENCY,
        "floor_hourly": str(floor_hourly(user=annotator)),
        "paid_seconds": str(paid_seconds.quantize(Decimal("0.001"))),
        "earned": str(money(earned)),
        "effective_hourly": None if effective is None else str(effective),
        "balance": str(money(balance)),
        "unsettled_seconds": str(Decimal(unsettled_seconds).quantize(Decimal("0.001"))),
        "next_settlement": next_settlement().isoformat(),
        "payout_minimum": str(settings.FAIRLABEL_PAYOUT_MINIMUM),
        "entries": [
            {
                "kind": row["kind"],
                "amount": str(row["amount"]),
                "project": row["project_id"],
                "project_title": row["project__title"],
                "created_at": row["created_at"].isoformat(),
            }
            for row in rows
        ],
    }


def budget_of(*, project: Project) -> dict[str, Any]:
    """The owner's view of a project's money: funded, available, reserved, spent, top-ups,
    and why the price changed."""
    sums = {
        kind: total
        for kind, total in Entry.objects.filter(project=project)
        .values_list("kind")
        .annotate(t=Sum("amount"))
    }
    available = ledger.budget_available(project.pk)
    spent = sum((sums.get(k, Decimal(0)) for k in PAY_KINDS), Decimal(0)) + sums.get(
        Kind.ADJUSTMENT, Decimal(0)
    )
    one_task = reservation_amount(price=project.price_per_task, floor=floor_hourly(highest=True))
    return {
        "currency": settings.FAIRLABEL_CURRENCY,
        "funded": str(money(sums.get(Kind.FUNDING, Decimal(0)))),
        "available": str(money(available)),
        "reserved": str(money(ledger.reserved_of(sums))),
        "spent": str(money(spent)),
        "piece_pay": str(money(sums.get(Kind.TASK_PAY, Decimal(0)))),
        "time_pay": str(money(sums.get(Kind.TIME_PAY, Decimal(0)))),
        "topups": str(money(sums.get(Kind.FLOOR_TOPUP, Decimal(0)))),
        "break_pay": str(money(sums.get(Kind.BREAK_PAY, Decimal(0)))),
        "instructions_pay": str(money(sums.get(Kind.INSTRUCTIONS_PAY, Decimal(0)))),
        "one_task_needs": str(one_task),
        "exhausted": available < one_task,
        "price_per_task": str(project.price_per_task),
        "estimated_seconds_per_task": project.estimated_seconds_per_task,
        "price_changes": [
            {
                "old_price": str(c.old_price),
                "new_price": str(c.new_price),
                "old_seconds": c.old_seconds,
                "new_seconds": c.new_seconds,
                "reason": c.reason,
                "automatic": c.automatic,
                "changed_at": c.changed_at.isoformat(),
            }
            for c in PriceChange.objects.filter(project=project)[:50]
        ],
    }


def payouts_pending() -> list[Payout]:
    return list(
        Payout.objects.filter(status=Payout.Status.PENDING)
        .select_related("annotator__profile")
        .order_by("requested_at", "id")
    )


def reviews_of_annotator(*, annotator) -> list[Review]:
    return list(
        Review.objects.filter(annotation__annotator=annotator)
        .exclude(status=Review.Status.APPROVED)
        .select_related("project")
        .order_by("-reviewed_at")[:100]
    )


def ledger_verification_last() -> dict[str, Any] | None:
    """The last verification of the whole ledger that was kept: the one an auditor's report
    runs (payments.reports). A public page must not run one (it reads every entry)."""
    from payments.models import ReportJob

    report = (
        ReportJob.objects.filter(status=JobStatus.DONE, finished_at__isnull=False)
        .order_by("-finished_at", "-id")
        .values("summary", "finished_at", "ledger_head")
        .first()
    )
    if report is None or "ledger_ok" not in (report["summary"] or {}):
        return None
    return {
        "ok": bool(report["summary"]["ledger_ok"]),
        "checked_at": report["finished_at"].isoformat(),
        "head": report["ledger_head"],
    }


def pay_provenance(*, project: Project, record: dict[str, Any], names: dict[int, str]) -> None:
    """The export's provenance, pay part, from the ledger's settlements (FAIRLABEL_PROVENANCE_
    SECTIONS): paid hours (active + instructions + breaks) and what reached each annotator,
    piece pay and top-ups together, against its own floor; work not settled yet is shown apart."""
    from django.db.models import Max

    from accounts.selectors import pseudonyms_for

    rows = list(
        Settlement.objects.filter(project=project)
        .values("annotator_id")
        .annotate(
            active=Sum("active_seconds"),
            instructions=Sum("instructions_seconds"),
            breaks=Sum("break_seconds"),
            piece=Sum("piece_pay"),
            instructions_pay=Sum("instructions_pay"),
            break_pay=Sum("break_pay"),
            topup=Sum("topup"),
            floor=Max("floor_hourly"),
        )
    )
    pseudonyms = {**names, **pseudonyms_for([r["annotator_id"] for r in rows])}
    counts = {a["annotator"]: a["annotations"] for a in record.get("per_annotator", [])}
    per_annotator = []
    total_seconds, total_paid, all_meet = Decimal(0), Decimal(0), True
    total_topup, below = Decimal(0), 0
    for row in rows:
        seconds = row["active"] + row["instructions"] + row["breaks"]
        paid = row["piece"] + row["instructions_pay"] + row["break_pay"] + row["topup"]
        owed = (row["floor"] * seconds / 3600).quantize(ledger.CENT)
        meets = paid >= owed
        all_meet = all_meet and meets
        below += 0 if meets else 1
        total_topup += row["topup"]
        total_seconds += seconds
        total_paid += paid
        name = pseudonyms.get(row["annotator_id"], "")
        per_annotator.append(
            {
                "annotator": name,
                "annotations": counts.get(name, 0),
                "paid_hours": str((seconds / 3600).quantize(Decimal("0.001"))),
                "paid": str(money(paid)),
                "topup": str(money(row["topup"])),
                "effective_hourly": str(money(paid * 3600 / seconds)) if seconds else None,
                "floor_hourly": str(money(row["floor"])),
                "meets_floor": meets,
            }
        )
    settled_names = {item["annotator"] for item in per_annotator}
    for name, count in counts.items():
        if name not in settled_names:  # worked, not settled yet: the next settlement pays it
            per_annotator.append(
                {
                    "annotator": name,
                    "annotations": count,
                    "paid_hours": "0.000",
                    "paid": "0.00",
                    "topup": "0.00",
                    "effective_hourly": None,
                    "floor_hourly": None,
                    "meets_floor": None,
                }
            )
    per_annotator.sort(key=lambda item: item["annotator"])
    cutoff = last_settled_end()
    later = Assignment.objects.filter(project=project).exclude(status=Assignment.Status.OPEN)
    if cutoff is not None:
        later = later.filter(finished_at__gte=cutoff)
    unsettled = later.aggregate(s=Sum("active_seconds"))["s"] or Decimal(0)
    from payments.models import ChainHead

    head = ledger.ledger_head(ChainHead.objects.values_list("chain", "seq", "hash"))
    record.update(
        {
            "pay_source": "ledger",
            "paid_hours": str((total_seconds / 3600).quantize(Decimal("0.001"))),
            "paid": str(money(total_paid)),
            "effective_hourly": str(money(total_paid * 3600 / total_seconds))
            if total_seconds
            else None,
            "meets_floor": all_meet if rows else None,
            "per_annotator": per_annotator,
            "settled_through": cutoff.isoformat() if cutoff else None,
            "unsettled_hours": str((Decimal(unsettled) / 3600).quantize(Decimal("0.001"))),
            "ledger_head": head,
            "topups": str(money(total_topup)),
            "below_floor_after_topup": below,
            "ledger_verification": ledger_verification_last(),
        }
    )
    record.setdefault("notes", {}).update(
        {
            "paid_hours": "Settled paid time from the ledger's settlements: active labeling "
            "time measured by heartbeats, reading instructions, and paid breaks.",
            "effective_hourly": "What reached the annotators (piece pay, time pay, paid breaks "
            "and instructions, floor top-ups) per paid hour; each annotator against its floor.",
            "unsettled_hours": "Work done after the last settlement: paid at the next one, at "
            "least at the floor.",
            "topups": "Floor top-ups the settlements paid for this project's work: what it took "
            "to bring each annotator's pay up to its floor for its paid time.",
            "ledger_verification": "The last full check of the ledger's hash chains and kept "
            "balances (an auditor's report runs one): whether it held, when, and the ledger "
            "head it ended at; null when none has run yet. ledger_head is the head now.",
        }
    )


# --- worker voice ------------------------------------------------------------------------------


def voice_messages(
    *, project_id: int | None = None, week: date | None = None, since: date | None = None
):
    """The annotators' anonymous messages, for auditors and admins only (never the project's
    owner): newest week first, then by topic, then by their random key, never in the order they
    were sent. `week` and `since` are any day of the week they mean."""
    from payments.models import VoiceMessage
    from payments.policies import voice_week

    rows = VoiceMessage.objects.select_related("project").only(
        "id", "week", "topic", "text", "project__id", "project__title"
    )
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    if week is not None:
        rows = rows.filter(week=voice_week(datetime.combine(week, time(12), tzinfo=UTC)))
    if since is not None:
        rows = rows.filter(week__gte=voice_week(datetime.combine(since, time(12), tzinfo=UTC)))
    return rows.order_by("-week", "topic", "id")


def voice_weeks() -> list[date]:
    """The weeks that hold messages, newest first (the auditors' filter)."""
    from payments.models import VoiceMessage

    return list(VoiceMessage.objects.order_by("-week").values_list("week", flat=True).distinct())
