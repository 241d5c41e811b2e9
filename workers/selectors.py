"""Read queries of workers."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from labeling.models import Category
from labeling.policies import policy_values
from labeling.selectors import project_open_categories
from workers.models import BLUR_DEFAULT_PX, Break, Consent, DisplayPreference, WorkDay, WorkSpan
from workers.policies import category_caps


def consent_of(*, annotator, project) -> dict[str, Any]:
    """The project's possible content (its declared categories, and any its tasks carry) and
    what the annotator agreed to see."""
    row = (
        Consent.objects.filter(annotator=annotator, project=project)
        .values_list("categories", flat=True)
        .first()
    )
    consented = set(row or [])
    names = dict(Category.choices)
    # Declared by the project, or carried by a task still to be done (an import row's own
    # categories, a flag): every one can be agreed to, or its tasks could never be served.
    possible = set(project.content_categories or []) | set(project_open_categories(project))
    return {
        "project": project.pk,
        "categories": [
            {"name": name, "label": str(names[name]), "consented": name in consented}
            for name in Category.values
            if name in possible or name in consented
        ],
        "consented": sorted(consented),
        # Whether the annotator has answered at all (agreeing to nothing is an answer).
        "decided": row is not None,
        "support": settings.FAIRLABEL_SUPPORT_CONTACT,
    }


def display_preferences(*, user_id: int) -> dict[str, int]:
    """FAIRLABEL_DISPLAY_PREFERENCES: how this person wants protected content shown (its blur
    strength; the default until it chooses one). One query."""
    blur = (
        DisplayPreference.objects.filter(user_id=user_id).values_list("blur_px", flat=True).first()
    )
    return {"blur_px": BLUR_DEFAULT_PX if blur is None else blur}


# --- labor provenance: breaks and exposure --------------------------------------------------

# The breaks the rules make due; the others are the annotator's choice or the cool-down's wait.
DUE_KINDS = (Break.Kind.DUE, Break.Kind.SENSITIVE, Break.Kind.LONG)
CHOSEN_KINDS = (Break.Kind.VOLUNTARY, Break.Kind.RECOVERY, Break.Kind.COOLDOWN)
# A day's sensitive time may pass the cap by the task in hand when the cap is reached (the gate
# stops serving, it does not cut a task short): the grace the auditors' reports allow too.
CAP_GRACE_SECONDS = Decimal(60)


def _hours(seconds: Decimal | int | None) -> str:
    value = Decimal(seconds or 0) / 3600
    return str(value.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def project_breaks(*, project, now=None) -> dict[str, Any]:
    """The breaks of a project's work: each break belongs to the project of the last work span
    its annotator started before it (one query, grouped by kind)."""
    now = now or timezone.now()
    spans = WorkSpan.objects.filter(project=project)
    worked_before = (
        WorkSpan.objects.filter(
            annotator_id=OuterRef("annotator_id"), started_at__lte=OuterRef("started_at")
        )
        .order_by("-started_at", "-id")
        .values("project_id")[:1]
    )
    rows = (
        Break.objects.filter(annotator_id__in=spans.values("annotator_id"))
        .annotate(worked_on=Subquery(worked_before))
        .filter(worked_on=project.pk)
        .order_by()
        .values("kind")
        .annotate(
            n=Count("id"),
            short=Count("id", filter=Q(ended_at__isnull=False, ended_at__lt=F("ends_at"))),
            running=Count("id", filter=Q(ended_at__isnull=True, ends_at__gt=now)),
            paid=Sum("paid_seconds"),
        )
    )
    by_kind = {row["kind"]: row for row in rows}

    def count(kinds, field: str = "n") -> int:
        return sum(by_kind[k][field] for k in kinds if k in by_kind)

    due_total = count(DUE_KINDS)
    cut_short, running = count(DUE_KINDS, "short"), count(DUE_KINDS, "running")
    return {
        "due": {str(k): count([k]) for k in DUE_KINDS},
        "due_total": due_total,
        "taken_in_full": due_total - cut_short - running,
        "cut_short": cut_short,
        "in_progress": running,
        "chosen": {str(k): count([k]) for k in CHOSEN_KINDS},
        "paid_hours": _hours(sum((row["paid"] or 0 for row in by_kind.values()), Decimal(0))),
    }


def project_exposure(*, project, policies: dict[str, Any]) -> dict[str, Any]:
    """Sensitive time on a project, per content category (from its work spans), and how the
    days of its annotators stood against the daily caps (from the daily roll-up)."""
    sensitive = WorkSpan.objects.filter(project=project, sensitive=True)
    per_category: dict[str, Decimal] = {}
    total = Decimal(0)
    exposed: set[int] = set()
    for annotator_id, categories, seconds in (
        sensitive.order_by()
        .values("annotator_id", "categories")
        .annotate(s=Sum("seconds"))
        .values_list("annotator_id", "categories", "s")
    ):
        exposed.add(annotator_id)
        total += seconds or 0
        for name in categories or []:
            per_category[name] = per_category.get(name, Decimal(0)) + (seconds or 0)
    cap = Decimal(policies["FAIRLABEL_SENSITIVE_DAILY_HOURS"])
    caps = category_caps(policies)
    # The days on which the annotator worked on this project (a span of it inside the day).
    days = WorkDay.objects.filter(
        Exists(
            WorkSpan.objects.filter(
                project=project,
                annotator_id=OuterRef("annotator_id"),
                started_at__lte=OuterRef("last_at"),
                ended_at__gte=OuterRef("first_at"),
            )
        )
    )
    limit = cap * 3600 + CAP_GRACE_SECONDS
    totals = days.aggregate(
        n=Count("id"),
        over=Count("id", filter=Q(sensitive_seconds__gt=limit)),
        top=Max("sensitive_seconds"),
    )
    over_category = over_any = totals["over"]
    if caps:
        over_category = over_any = 0
        for spent, seconds in days.filter(sensitive_seconds__gt=0).values_list(
            "category_seconds", "sensitive_seconds"
        ):
            passed = any(
                Decimal(str((spent or {}).get(name, "0"))) > hours * 3600 + CAP_GRACE_SECONDS
                for name, hours in caps.items()
            )
            over_category += passed
            over_any += passed or seconds > limit
    return {
        "sensitive_hours": _hours(total),
        "per_category": {
            name: _hours(per_category[name]) for name in Category.values if name in per_category
        },
        "annotators_exposed": len(exposed),
        "daily_cap_hours": str(cap),
        "category_caps_hours": {name: str(hours) for name, hours in sorted(caps.items())},
        "annotator_days": totals["n"],
        "annotator_days_over_cap": totals["over"],
        "annotator_days_over_category_cap": over_category,
        "annotator_days_over_a_cap": over_any,
        "cap_passed": bool(over_any),
        "max_day_sensitive_hours": _hours(totals["top"]),
    }


def time_provenance(*, project, record: dict[str, Any], names: dict[int, str]) -> None:
    """The export's provenance, working-time part (FAIRLABEL_PROVENANCE_SECTIONS): the breaks
    and the exposure to sensitive content of the project's work, from the working-time
    records. Project-wide, like the pay part; the notes say what each figure covers."""
    record["breaks"] = project_breaks(project=project)
    record["exposure"] = project_exposure(project=project, policies=policy_values())
    record.setdefault("notes", {}).update(
        {
            "breaks": "Paid breaks of this project's work, from the working-time records: a "
            "break belongs to the project of the last work span its annotator started before "
            "it. due: breaks the rules made due, by kind (after continuous work, after "
            "sensitive work, the long break of the day); taken_in_full: due breaks not ended "
            "early; cut_short: due breaks ended before their end; in_progress: due breaks "
            "running now; chosen: breaks the annotators chose (voluntary, recovery) and "
            "cool-downs waited out; paid_hours: the paid seconds of all of them. The ledger "
            "pays each annotator's break time across its projects in proportion to its work "
            "(in paid_hours above), so the two break figures may differ.",
            "exposure": "Sensitive time on this project, from its work spans (active time on "
            "tasks carrying a content category). A span with several categories counts in "
            "each of them, once in sensitive_hours. The daily caps apply to an annotator's "
            "day across all projects: annotator_days are the days (from the daily roll-up, "
            "rebuilt by the beat job) on which the project's annotators worked on it, and "
            "annotator_days_over_cap those whose sensitive time, on any project, passed "
            "daily_cap_hours by more than 60 seconds (the task in hand when the cap is "
            "reached is finished); category caps likewise; annotator_days_over_a_cap counts "
            "each day past any of them once.",
        }
    )
