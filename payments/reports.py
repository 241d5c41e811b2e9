"""Auditors' reports: did the rules hold over a period? Computed from the settlements, the
working-time records and the ledger, by pseudonym only; violations first, with their evidence.

A report covers the settlement periods that ended inside [start, end) (pay is only final once
settled), and the working days, breaks and reviews in [start, end)."""

from __future__ import annotations

import csv
import io
import logging
import statistics
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, F, FloatField, Func, Max, Q, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.selectors import pseudonyms_for
from fairlabel.errors import DomainError
from labeling.exporting.services import p10
from labeling.jobs.models import JobStatus
from labeling.jobs.services import LeaseLost, job_claim, job_enqueue
from labeling.models import Project
from labeling.policies import policy_values
from payments import ledger
from payments.ledger import money
from payments.models import (
    ChainHead,
    Entry,
    Kind,
    ReportJob,
    Review,
    Settlement,
    SettlementJob,
    VoiceMessage,
)
from workers.selectors import CAP_GRACE_SECONDS, DUE_KINDS

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")
HOURS_LIMIT_CODES = ("daily_limit", "weekly_limit", "rest")
EXPOSURE_CODES = ("exposure_cap",)


def report_create(*, user, start, end, project: Project | None = None) -> ReportJob:
    if end <= start:
        raise DomainError("invalid_period", "The period must end after it starts.", field="end")
    with transaction.atomic():
        job = ReportJob.objects.create(requested_by=user, start=start, end=end, project=project)
        job_enqueue(job=job)
    return job


def report_job_run(*, job_id: int) -> ReportJob | None:
    claim = job_claim(model=ReportJob, job_id=job_id)
    if claim is None:
        return ReportJob.objects.filter(pk=job_id).first()
    job = claim.job
    try:
        with claim.heartbeat(), transaction.atomic():
            summary, details, text = report_compute(
                start=job.start, end=job.end, project=job.project
            )
            heads = list(ChainHead.objects.values_list("chain", "seq", "hash"))
            last = Entry.objects.aggregate(m=Max("id"))["m"]
            return claim.finish(
                status=JobStatus.DONE,
                summary=summary,
                details=details,
                csv=text,
                ledger_head=ledger.ledger_head(heads),
                ledger_last_entry=last,
            )
    except LeaseLost:
        return ReportJob.objects.filter(pk=job_id).first()
    except Exception:
        claim.fail(message="internal error")
        raise


def _hourly(amount: Decimal, seconds: Decimal) -> Decimal | None:
    return money(amount * 3600 / seconds) if seconds > 0 else None


def _histogram(values: list[Decimal], floor: Decimal) -> list[dict[str, Any]]:
    """Counts per bin of 2 currency units an hour, from 0 to past the highest value."""
    if not values:
        return []
    width = Decimal(2)
    top = max(max(values), floor) + width
    bins = []
    low = Decimal(0)
    while low < top:
        count = sum(1 for v in values if low <= v < low + width)
        bins.append({"from": str(low), "to": str(low + width), "count": count})
        low += width
    return bins


def report_compute(*, start, end, project: Project | None = None) -> tuple[dict, dict, str]:
    from workers.models import Break, RefusalDay, WorkDay, WorkSpan
    from workers.policies import week_of

    policies = policy_values()
    rows = Settlement.objects.filter(
        job__status=JobStatus.DONE, job__period_end__gt=start, job__period_end__lte=end
    )
    if project is not None:
        rows = rows.filter(project=project)
    per: dict[tuple[int, int | None], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    floors: dict[int, Decimal] = {}
    for row in rows.values(
        "annotator_id",
        "project_id",
        "active_seconds",
        "instructions_seconds",
        "break_seconds",
        "piece_pay",
        "instructions_pay",
        "break_pay",
        "topup",
        "floor_hourly",
    ).iterator(chunk_size=5000):
        key = (row["annotator_id"], row["project_id"])
        item = per[key]
        item["seconds"] += (
            row["active_seconds"] + row["instructions_seconds"] + row["break_seconds"]
        )
        item["before"] += row["piece_pay"] + row["instructions_pay"] + row["break_pay"]
        item["topup"] += row["topup"]
        floors[row["annotator_id"]] = max(
            floors.get(row["annotator_id"], Decimal(0)), row["floor_hourly"]
        )
    annotator_ids = sorted({a for a, _p in per})
    names = pseudonyms_for(annotator_ids)
    titles = dict(
        Project.objects.filter(pk__in={p for _a, p in per if p}).values_list("pk", "title")
    )

    # Per pseudonym over every project: what the guarantee is about.
    people: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for (annotator_id, _project_id), item in per.items():
        for k, v in item.items():
            people[annotator_id][k] += v
    violations: list[dict[str, Any]] = []
    after_rates, before_rates = [], []
    below = 0
    for annotator_id, item in sorted(people.items()):
        seconds = item["seconds"]
        if seconds <= 0:
            continue
        after = item["before"] + item["topup"]
        before_rates.append(_hourly(item["before"], seconds))
        after_rates.append(_hourly(after, seconds))
        owed = (floors[annotator_id] * seconds / 3600).quantize(CENT)
        if after < owed:
            below += 1
            violations.append(
                {
                    "rule": "fair-pay-floor",
                    "pseudonym": names.get(annotator_id, ""),
                    "evidence": f"paid {money(after)} for {money(seconds / 3600)} h; the floor "
                    f"of {floors[annotator_id]}/h owes {owed}",
                }
            )
    # Breaks, working days, exposure: from the working-time records.
    days = WorkDay.objects.filter(first_at__lt=end, last_at__gte=start)
    breaks = Break.objects.filter(started_at__gte=start, started_at__lt=end)
    if project is not None:
        # Work of the project's annotators in the period (time records are per person).
        days = days.filter(annotator_id__in=annotator_ids)
        breaks = breaks.filter(annotator_id__in=annotator_ids)
    due = breaks.filter(kind__in=DUE_KINDS)
    breaks_due = due.count()
    # Taken in full: not ended, or ended at or after its end (counted in SQL, not row by row).
    breaks_taken = due.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=F("ends_at"))).count()
    daily_cap = _past(policies, "FAIRLABEL_DAILY_HOURS")
    sensitive_cap = _past(policies, "FAIRLABEL_SENSITIVE_DAILY_HOURS")
    category_seconds: dict[str, Decimal] = defaultdict(Decimal)
    hours_per_day: list[dict[str, Any]] = []
    peak: dict[int, Decimal] = {}
    weeks: dict[tuple[int, Any], Decimal] = defaultdict(Decimal)
    day_names = pseudonyms_for(
        sorted(days.order_by().values_list("annotator_id", flat=True).distinct())
    )
    # Named rows, not model instances: tens of thousands of days, and only these fields.
    for day in (
        days.order_by("day", "annotator_id")
        .values_list(
            "annotator_id", "day", "active_seconds", "instruction_seconds",
            "sensitive_seconds", "category_seconds", named=True,
        )
        .iterator(chunk_size=5000)
    ):  # fmt: skip
        worked = day.active_seconds + day.instruction_seconds
        for category, secs in (day.category_seconds or {}).items():
            category_seconds[category] += Decimal(str(secs))
        peak[day.annotator_id] = max(peak.get(day.annotator_id, 0), worked)
        weeks[(day.annotator_id, week_of(day.day))] += worked
        hours_per_day.append(
            {
                "annotator_id": day.annotator_id,
                "pseudonym": day_names.get(day.annotator_id, ""),
                "day": day.day.isoformat(),
                "hours": str((worked / 3600).quantize(Decimal("0.01"))),
                "sensitive_hours": str((day.sensitive_seconds / 3600).quantize(Decimal("0.01"))),
            }
        )
        if worked > daily_cap:
            violations.append(
                {
                    "rule": "daily-limit",
                    "pseudonym": day_names.get(day.annotator_id, ""),
                    "evidence": f"{day.day}: worked {(worked / 3600).quantize(Decimal('0.01'))} h "
                    f"over the daily limit of {policies['FAIRLABEL_DAILY_HOURS']} h",
                }
            )
        if day.sensitive_seconds > sensitive_cap:
            violations.append(
                {
                    "rule": "sensitive-cap",
                    "pseudonym": day_names.get(day.annotator_id, ""),
                    "evidence": f"{day.day}: {_h(day.sensitive_seconds)} h of sensitive work over "
                    f"the cap of {policies['FAIRLABEL_SENSITIVE_DAILY_HOURS']} h",
                }
            )
    if project is not None:
        # Sensitive time on this project only: its work spans (the days hold every project).
        category_seconds = defaultdict(Decimal)
        for categories, seconds in (
            WorkSpan.objects.filter(
                project=project, sensitive=True, started_at__gte=start, started_at__lt=end
            )
            .order_by()
            .values("categories")
            .annotate(s=Sum("seconds"))
            .values_list("categories", "s")
        ):
            for name in categories or []:
                category_seconds[name] += Decimal(seconds or 0)
    weekly_cap = _past(policies, "FAIRLABEL_WEEKLY_HOURS")
    for (annotator_id, monday), worked in sorted(weeks.items(), key=lambda kv: kv[0][1]):
        if worked > weekly_cap:
            violations.append(
                {
                    "rule": "weekly-limit",
                    "pseudonym": day_names.get(annotator_id, ""),
                    "evidence": f"week of {monday}: worked {_h(worked)} h over the weekly "
                    f"limit of {policies['FAIRLABEL_WEEKLY_HOURS']} h",
                }
            )
    cut_short = [
        (annotator_id, f"a break due at {started_at:%Y-%m-%d %H:%M} UTC ended early")
        for annotator_id, started_at in due.filter(ended_at__lt=F("ends_at"))
        .order_by("started_at", "pk")
        .values_list("annotator_id", "started_at")
    ]
    cut_short += _breaks_not_given(
        start=start,
        end=end,
        annotator_ids=annotator_ids if project is not None else None,
        policies=policies,
    )
    # Reviews: rejections, appeals and their outcomes; an appeal past its deadline.
    reviews = Review.objects.filter(reviewed_at__gte=start, reviewed_at__lt=end)
    overdue = Review.objects.filter(
        status=Review.Status.APPEALED, appeal_deadline__lt=min(timezone.now(), end)
    )
    if project is not None:
        reviews = reviews.filter(project=project)
        overdue = overdue.filter(project=project)
    outcomes = dict(reviews.values_list("status").annotate(n=Count("pk")))
    late = [
        (
            annotator_id,
            f"appeal on annotation {annotation_id} undecided past its deadline {deadline:%Y-%m-%d}",
        )
        for annotation_id, annotator_id, deadline in overdue.values_list(
            "annotation_id", "annotation__annotator_id", "appeal_deadline"
        )
    ]
    # One read of the pseudonyms these violations name.
    named = pseudonyms_for(sorted({a for a, _e in cut_short + late}))
    violations += [
        {"rule": "breaks", "pseudonym": named.get(a, ""), "evidence": e} for a, e in cut_short
    ]
    violations += [
        {"rule": "rejections", "pseudonym": named.get(a, ""), "evidence": e} for a, e in late
    ]
    # Refusals: the evidence that hours limits and exposure caps were applied.
    refusals = RefusalDay.objects.filter(first_at__gte=start, first_at__lt=end)
    if project is not None:
        refusals = refusals.filter(project=project)
    refused = {
        row["code"]: {
            "requests": int(row["requests"]),
            "annotators": row["annotators"],
            "annotator_days": row["days"],
        }
        for row in refusals.values("code")
        .annotate(
            requests=Sum("count"),
            annotators=Count("annotator", distinct=True),
            days=Count("pk"),
        )
        .order_by("code")
    }
    # Worker voice: anonymous messages filed under the weeks the period touches, by topic.
    messages = VoiceMessage.objects.filter(week__gte=week_of(start.date()), week__lt=end.date())
    if project is not None:
        messages = messages.filter(project=project)
    voice = dict(messages.values_list("topic").annotate(n=Count("pk")).order_by())
    # Money: what owners put in against what reached annotators.
    # Movements made in the period, except settlements, whose entries are written when a
    # period is settled (after it ends): those of the periods this report covers count instead.
    settled_jobs = (
        SettlementJob.objects.filter(
            status=JobStatus.DONE, period_end__gt=start, period_end__lte=end
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    of_settlements = Q()
    for job_id in settled_jobs:
        of_settlements |= Q(reference__startswith=f"settle:{job_id}:")
    entries = Entry.objects.filter(
        (Q(created_at__gte=start, created_at__lt=end) & ~Q(reference__startswith="settle:"))
        | (of_settlements if of_settlements else Q(pk__in=[]))
    )
    if project is not None:
        entries = entries.filter(project=project)
    kinds = {
        kind: ledger.exact(total)
        for kind, total in entries.values_list("kind").annotate(t=Sum("amount")).order_by()
    }
    to_annotators = sum(
        (kinds.get(k, Decimal(0)) for k in (Kind.TASK_PAY, Kind.TIME_PAY, Kind.BREAK_PAY,
                                           Kind.INSTRUCTIONS_PAY, Kind.FLOOR_TOPUP,
                                           Kind.REJECTION_FLOOR_PAY, Kind.ADJUSTMENT)),
        Decimal(0),
    )  # fmt: skip
    spent = to_annotators  # Fairlabel takes no fee: every pay entry is charged to a budget.
    # Rehashes what was written since the last checkpoints (payments.ledger); what it covered is
    # recorded under "ledger".
    check = ledger.verify_since_checkpoints()
    if not check.ok:
        violations.insert(
            0, {"rule": "ledger", "pseudonym": "", "evidence": "; ".join(check.problems[:5])}
        )
    floor_now = Decimal(policies["FAIRLABEL_FLOOR_HOURLY"]).quantize(CENT)
    rates = [r for r in after_rates if r is not None]
    paid_seconds = sum((p["seconds"] for p in people.values()), Decimal(0))
    summary = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "project": project.pk if project else None,
        "annotators": len(rates),
        "paid_hours": str((paid_seconds / 3600).quantize(Decimal("0.01"))),
        "floor_hourly": str(floor_now),
        "effective_hourly_median": str(money(statistics.median(rates))) if rates else None,
        "effective_hourly_p10": str(p10(rates)) if rates else None,
        "effective_hourly_min": str(min(rates)) if rates else None,
        "effective_hourly_before_topup_median": str(
            money(statistics.median([r for r in before_rates if r is not None]))
        )
        if rates
        else None,
        "below_floor_after_topup": below,
        "topups_total": str(money(sum((p["topup"] for p in people.values()), Decimal(0)))),
        "owners_funded": str(money(kinds.get(Kind.FUNDING, Decimal(0)))),
        "owners_spent": str(money(spent)),
        "paid_to_annotators": str(money(to_annotators)),
        "labor_share": str((to_annotators / spent).quantize(CENT)) if spent else None,
        "breaks_due": breaks_due,
        "breaks_taken": breaks_taken,
        "sensitive_hours": {
            k: str((v / 3600).quantize(Decimal("0.01")))
            for k, v in sorted(category_seconds.items())
        },
        "reviews": {k: int(v) for k, v in outcomes.items()},
        "refusals": refused,
        "messages": {k: int(v) for k, v in sorted(voice.items())},
        "messages_total": sum(int(v) for v in voice.values()),
        "hours_limit_refusals": sum(
            refused.get(code, {}).get("requests", 0) for code in HOURS_LIMIT_CODES
        ),
        "exposure_cap_refusals": sum(
            refused.get(code, {}).get("requests", 0) for code in EXPOSURE_CODES
        ),
        "ledger_ok": check.ok,
        "ledger": check.report_dict(),
        "violations": violations,
    }
    details = {
        "histogram": _histogram(rates, floor_now),
        **_longest_days(hours_per_day, peak),
        "daily_hours_limit": str(policies["FAIRLABEL_DAILY_HOURS"]),
    }
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["pseudonym", "project_id", "project", "paid_hours", "paid_before_topup", "topup",
         "paid", "effective_hourly", "floor_hourly", "meets_floor"]
    )  # fmt: skip
    for (annotator_id, project_id), item in sorted(
        per.items(), key=lambda kv: (names.get(kv[0][0], ""), kv[0][1] or 0)
    ):
        seconds = item["seconds"]
        paid = item["before"] + item["topup"]
        rate = _hourly(paid, seconds)
        floor = floors[annotator_id]
        writer.writerow(
            [
                names.get(annotator_id, ""),
                project_id or "",
                titles.get(project_id, ""),
                f"{(seconds / 3600).quantize(Decimal('0.001'))}",
                f"{money(item['before'])}",
                f"{money(item['topup'])}",
                f"{money(paid)}",
                "" if rate is None else f"{rate}",
                f"{floor}",
                "" if rate is None else str(rate >= floor).lower(),
            ]
        )
    return summary, details, out.getvalue()


class _Epoch(Func):
    """A moment as seconds since 1970 (a float): a million spans are compared, not displayed,
    and reading them as numbers skips building a datetime for each."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", **extra
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)",
            **extra,
        )


def _breaks_not_given(
    *, start, end, annotator_ids: list[int] | None, policies: dict[str, Any]
) -> list[tuple[int, str]]:
    """Stretches of continuous work longer than the rules allow without a break, from the work
    spans: the evidence of a break not given. Read so as never to accuse wrongly: any break
    (of any kind) or any pause of the shorter break's length ends a stretch, a span a break
    began in ends it too (its seconds are not split), and a stretch may pass its limit by one
    sign of work (FAIRLABEL_IDLE_SECONDS) and a minute before it counts. Streams the spans and
    the breaks, both ordered by annotator and start, one annotator at a time; moments and
    seconds are read as numbers (compared only)."""
    from bisect import bisect_left
    from itertools import groupby

    from workers.models import Break, WorkSpan

    pause_seconds = 60 * float(
        min(policies["FAIRLABEL_BREAK_MINUTES"], policies["FAIRLABEL_SENSITIVE_BREAK_MINUTES"])
    )
    margin = float(Decimal(policies["FAIRLABEL_IDLE_SECONDS"]) + CAP_GRACE_SECONDS)
    after_names = {
        False: "FAIRLABEL_BREAK_AFTER_MINUTES",
        True: "FAIRLABEL_SENSITIVE_BREAK_AFTER_MINUTES",
    }
    limits = {k: 60 * float(policies[name]) + margin for k, name in after_names.items()}
    spans = WorkSpan.objects.filter(started_at__gte=start, started_at__lt=end)
    breaks = Break.objects.filter(started_at__gte=start, started_at__lt=end)
    if annotator_ids is not None:
        spans = spans.filter(annotator_id__in=annotator_ids)
        breaks = breaks.filter(annotator_id__in=annotator_ids)
    break_rows = groupby(
        breaks.order_by("annotator_id", "started_at")
        .annotate(at=_Epoch("started_at"))
        .values_list("annotator_id", "at")
        .iterator(chunk_size=10000),
        key=lambda row: row[0],
    )
    pending: tuple[int, list] | None = None

    def breaks_of(annotator_id: int) -> list:
        nonlocal pending
        while True:
            if pending is None:
                try:
                    key, rows = next(break_rows)
                except StopIteration:
                    return []
                pending = (key, [at for _a, at in rows])
            if pending[0] > annotator_id:
                return []
            key, starts = pending
            pending = None
            if key == annotator_id:
                return starts

    found: list[tuple[int, str]] = []
    span_rows = (
        spans.order_by("annotator_id", "started_at", "pk")
        .annotate(
            began=_Epoch("started_at"),
            ended=_Epoch("ended_at"),
            worked=Cast("seconds", FloatField()),
        )
        .values_list("annotator_id", "began", "ended", "worked", "sensitive")
        .iterator(chunk_size=10000)
    )
    for annotator_id, rows in groupby(span_rows, key=lambda row: row[0]):
        starts = breaks_of(annotator_id)
        stretch, sensitive, since, last_end = 0.0, False, None, None
        reported = False
        for _a, began, ended, seconds, is_sensitive in rows:
            first_break = bisect_left(starts, last_end) if last_end is not None else 0
            rested = first_break < len(starts) and starts[first_break] < ended
            paused = last_end is not None and began - last_end >= pause_seconds
            if rested or paused:
                stretch, sensitive, since, reported = 0.0, False, None, False
                if rested and starts[first_break] >= began:  # a break began inside this span
                    last_end = ended
                    continue
            stretch += seconds
            sensitive = sensitive or is_sensitive
            since = began if since is None else since
            if stretch > limits[sensitive] and not reported:
                reported = True  # one finding per stretch
                rule = after_names[sensitive]
                found.append(
                    (
                        annotator_id,
                        f"worked {round(stretch / 60)} min without a break from "
                        f"{datetime.fromtimestamp(since, UTC):%Y-%m-%d %H:%M} UTC (a break is "
                        f"due after {policies[rule]} min)",
                    )
                )
            last_end = ended
    return found


LONGEST_DAYS_PSEUDONYMS = 40


def _longest_days(rows: list[dict[str, Any]], peak: dict[int, Decimal]) -> dict[str, Any]:
    """Hours per day for the pseudonyms whose longest day was longest (those nearest the limits
    or past them), at most LONGEST_DAYS_PSEUDONYMS of them: a chart of ten thousand rows helps
    no one, and the CSV holds everybody."""
    chosen = {
        a
        for a, _s in sorted(peak.items(), key=lambda kv: (-kv[1], kv[0]))[:LONGEST_DAYS_PSEUDONYMS]
    }
    return {
        "hours_per_day": [
            {k: v for k, v in row.items() if k != "annotator_id"}
            for row in rows
            if row["annotator_id"] in chosen
        ],
        "hours_per_day_shown": len(chosen),
        "hours_per_day_of": len(peak),
    }


def _h(seconds: Decimal) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(Decimal("0.01"))


def _past(policies: dict[str, Any], name: str) -> Decimal:
    """The seconds past which an hours limit was passed: the limit, and the grace the rules
    allow for the task in hand when it is reached (workers.selectors.CAP_GRACE_SECONDS)."""
    return Decimal(policies[name]) * 3600 + CAP_GRACE_SECONDS


def report_days_rows(job: ReportJob) -> Iterator[list[str]]:
    """Hours per day for every pseudonym of a report (the page charts the 40 longest), read
    from the daily roll-up over the report's period: a header, then one row per pseudonym and
    day, in day order. A project's report keeps the annotators its settlements name."""
    from workers.models import WorkDay

    policies = policy_values()
    daily_cap = _past(policies, "FAIRLABEL_DAILY_HOURS")
    sensitive_cap = _past(policies, "FAIRLABEL_SENSITIVE_DAILY_HOURS")
    days = WorkDay.objects.filter(first_at__lt=job.end, last_at__gte=job.start)
    if job.project_id is not None:
        days = days.filter(
            annotator_id__in=Settlement.objects.filter(
                project_id=job.project_id,
                job__status=JobStatus.DONE,
                job__period_end__gt=job.start,
                job__period_end__lte=job.end,
            ).values("annotator_id")
        )
    yield [
        "pseudonym", "day", "worked_hours", "break_hours", "sensitive_hours", "tasks_done",
        "over_daily_limit", "over_sensitive_cap",
    ]  # fmt: skip
    rows = days.order_by("day", "annotator_id").values_list(
        "annotator_id", "day", "active_seconds", "instruction_seconds", "break_seconds",
        "sensitive_seconds", "tasks_done",
    )  # fmt: skip
    chunk: list[tuple] = []
    for row in rows.iterator(chunk_size=5000):
        chunk.append(row)
        if len(chunk) == 5000:
            yield from _day_lines(chunk, daily_cap, sensitive_cap)
            chunk = []
    yield from _day_lines(chunk, daily_cap, sensitive_cap)


def _day_lines(chunk, daily_cap: Decimal, sensitive_cap: Decimal) -> Iterator[list[str]]:
    names = pseudonyms_for(sorted({row[0] for row in chunk}))
    for annotator_id, day, active, instructions, pause, sensitive, tasks in chunk:
        worked = active + instructions
        yield [
            names.get(annotator_id, ""),
            day.isoformat(),
            str(_h(worked)),
            str(_h(pause)),
            str(_h(sensitive)),
            str(tasks),
            str(worked > daily_cap).lower(),
            str(sensitive > sensitive_cap).lower(),
        ]
