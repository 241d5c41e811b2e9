"""Fair pay: floors, project budgets, the append-only hash-chained ledger, settlement, payouts,
reviews with appeals, and price changes.

Money is `Decimal` to the cent. The ledger is the truth: every balance shown anywhere is a sum of
its entries, and `verify_ledger` checks both the chain and those sums.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from labeling.jobs.models import Job

ZERO = Decimal("0.00")


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, **kwargs)


def _seconds(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=3, default=Decimal("0.000"), **kwargs)


class CountryFloor(models.Model):
    """An hourly floor for annotators living in one country, above the global floor
    (FAIRLABEL_FLOOR_HOURLY). Changed only through `payments.services.floor_set` (audited)."""

    country = models.CharField(_("country"), max_length=2, unique=True)
    hourly = _money(verbose_name=_("hourly floor"))
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["country"]
        constraints = [
            models.CheckConstraint(condition=Q(hourly__gte=0), name="country_floor_non_negative")
        ]

    def __str__(self) -> str:
        return f"{self.country}: {self.hourly}"


class FloorChange(models.Model):
    """The audit row of a country floor's change (the global floor's go to PolicyChange)."""

    country = models.CharField(max_length=2)
    old_hourly = _money(null=True, blank=True)
    new_hourly = _money(null=True, blank=True)  # null: the row was removed
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"floor {self.country}: {self.old_hourly} -> {self.new_hourly}"


class Kind(models.TextChoices):
    FUNDING = "funding", _("Funding")
    RESERVATION = "reservation", _("Reservation")
    RELEASE = "release", _("Release")
    TASK_PAY = "task_pay", _("Task pay")
    TIME_PAY = "time_pay", _("Time pay")
    BREAK_PAY = "break_pay", _("Break pay")
    INSTRUCTIONS_PAY = "instructions_pay", _("Instructions pay")
    FLOOR_TOPUP = "floor_topup", _("Floor top-up")
    REJECTION_FLOOR_PAY = "rejection_floor_pay", _("Rejected work paid at the floor")
    PAYOUT = "payout", _("Payout")
    ADJUSTMENT = "adjustment", _("Adjustment")


# What each kind does to the three balances the ledger keeps (DESIGN.md "Fair pay"):
#   project available (funds not yet committed), project reserved, annotator balance.
# Pay kinds credit the annotator; the ones paid from a reservation take it from `reserved`, the
# others are charged to the project's available funds.
POSITIVE_KINDS = (
    Kind.FUNDING,
    Kind.RESERVATION,
    Kind.RELEASE,
    Kind.TASK_PAY,
    Kind.TIME_PAY,
    Kind.BREAK_PAY,
    Kind.INSTRUCTIONS_PAY,
    Kind.FLOOR_TOPUP,
    Kind.REJECTION_FLOOR_PAY,
)
PAY_KINDS = (
    Kind.TASK_PAY,
    Kind.TIME_PAY,
    Kind.BREAK_PAY,
    Kind.INSTRUCTIONS_PAY,
    Kind.FLOOR_TOPUP,
    Kind.REJECTION_FLOOR_PAY,
)
FROM_RESERVATION = (Kind.TASK_PAY, Kind.TIME_PAY)


class Entry(models.Model):
    """One money movement. Append-only: database triggers refuse UPDATE and DELETE (migration
    0002), a correction is a new `adjustment`. Each entry belongs to one chain; its hash covers
    its fields and the previous entry's hash in that chain (`payments.ledger`)."""

    id = models.BigAutoField(primary_key=True)
    chain = models.PositiveSmallIntegerField()
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=24, choices=Kind.choices)
    # What the movement is for, unique per kind: "assignment:42", "settle:7:2026-12-01:...".
    reference = models.CharField(max_length=160)
    amount = _money()
    currency = models.CharField(max_length=3)
    project = models.ForeignKey(
        "labeling.Project", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name_plural = "entries"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="entry_once_per_reference"),
            models.UniqueConstraint(fields=["chain", "seq"], name="entry_chain_position"),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=[k.value for k in POSITIVE_KINDS], amount__gt=0)
                    | Q(kind=Kind.PAYOUT.value, amount__lt=0)
                    | (Q(kind=Kind.ADJUSTMENT.value) & ~Q(amount=0))
                ),
                name="entry_sign_per_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[k.value for k in PAY_KINDS]) | Q(annotator__isnull=False),
                name="entry_pay_has_annotator",
            ),
        ]
        indexes = [
            models.Index(fields=["annotator", "created_at"]),
            models.Index(fields=["project", "kind"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.reference})"


class ChainHead(models.Model):
    """The last entry of one chain: locked to append, so appends to one chain are serial while
    the chains (one per shard of annotators, plus settlement's and control's) run side by side."""

    chain = models.PositiveSmallIntegerField(primary_key=True)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"chain {self.chain} at {self.seq}"


class LedgerCheckpoint(models.Model):
    """How far one chain has been verified: every entry through `seq` was rehashed and found
    linked, ending at `hash`. Advanced by the beat job and `manage.py verify_ledger`, so that a
    report rehashes only the entries written since (`payments.ledger.verify_since_checkpoints`).
    A full verify that finds a broken entry moves the checkpoint back before it."""

    chain = models.PositiveSmallIntegerField(primary_key=True)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
    verified_at = models.DateTimeField()
    # Whether the check that set it rehashed the chain from its first entry.
    full = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"chain {self.chain} verified through {self.seq}"


class BudgetShard(models.Model):
    """A slice of a project's uncommitted funds. A claim reserves from one slice, so concurrent
    claims of one project do not all wait on one row; the slices sum to the project's available
    funds in the ledger (funding - reservations + releases - charges)."""

    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="+")
    shard = models.PositiveSmallIntegerField()
    available = _money(default=ZERO)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "shard"], name="budget_shard_unique")
        ]

    def __str__(self) -> str:
        return f"budget of project {self.project_id}, slice {self.shard}: {self.available}"


class Reservation(models.Model):
    """The worst-case pay of one served assignment, held until it is submitted, skipped,
    expired or released: then it becomes pay and the rest is released."""

    assignment = models.OneToOneField(
        "labeling.Assignment", on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="+")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    shard = models.PositiveSmallIntegerField()
    amount = _money()
    price = _money()
    floor_hourly = _money()
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["project"], condition=Q(closed_at__isnull=True), name="reservation_open"
            )
        ]

    def __str__(self) -> str:
        return f"reservation of assignment {self.assignment_id}: {self.amount}"


class SettlementJob(Job):
    """One settlement period, [period_start, period_end), run as a background job: per annotator
    the paid time, piece pay and the floor top-up. The whole period commits at once or not at all,
    and every entry it writes is unique per (kind, reference): running it again pays nothing twice.
    """

    job_task = "payments.tasks.settle"

    period_start = models.DateTimeField()
    period_end = models.DateTimeField(unique=True)
    annotators = models.PositiveIntegerField(default=0)
    entries = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta(Job.Meta):
        ordering = ["-period_end"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gt=models.F("period_start")), name="settlement_ordered"
            )
        ]

    def job_failure_fields(self, message: str) -> dict[str, Any]:
        return {"error": message}

    def __str__(self) -> str:
        return f"settlement {self.period_start:%Y-%m-%d %H:%M} to {self.period_end:%Y-%m-%d %H:%M}"


class Settlement(models.Model):
    """One annotator's settled period, per project: what the ledger was told and why. Written
    once by the settlement job, with the entries; what auditors read."""

    job = models.ForeignKey(SettlementJob, on_delete=models.PROTECT, related_name="settlements")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="settlements"
    )
    project = models.ForeignKey(
        "labeling.Project", on_delete=models.PROTECT, null=True, related_name="+"
    )
    active_seconds = _seconds()
    instructions_seconds = _seconds()
    break_seconds = _seconds()
    floor_hourly = _money()
    piece_pay = _money(default=ZERO)
    instructions_pay = _money(default=ZERO)
    break_pay = _money(default=ZERO)
    topup = _money(default=ZERO)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "annotator", "project"], name="settlement_once")
        ]
        indexes = [models.Index(fields=["annotator", "job"])]

    def __str__(self) -> str:
        return f"settlement {self.job_id} of {self.annotator_id} in {self.project_id}"

    @property
    def paid_seconds(self) -> Decimal:
        return self.active_seconds + self.instructions_seconds + self.break_seconds


class Payout(models.Model):
    """An annotator's request to be paid its balance: the `payout` entry is written at once (the
    money leaves the balance); an admin exports pending payouts and marks them paid."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PAID = "paid", _("Paid")

    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    amount = _money()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    provider_reference = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payout_positive")]

    def __str__(self) -> str:
        return f"payout {self.pk}: {self.amount} {self.currency} ({self.status})"


class Review(models.Model):
    """An owner's decision on one annotation: approved, or rejected with a written reason. A
    rejected annotation is still paid at the floor for its time; its annotator may appeal, and a
    person (owner or admin) decides by the deadline."""

    class Status(models.TextChoices):
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        APPEALED = "appealed", _("Appealed")
        OVERTURNED = "overturned", _("Appeal upheld: approved")
        UPHELD = "upheld", _("Appeal refused: rejection stands")

    annotation = models.OneToOneField(
        "labeling.Annotation", on_delete=models.PROTECT, primary_key=True, related_name="review"
    )
    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices)
    reason = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )  # null: approved automatically after FAIRLABEL_AUTO_APPROVE_DAYS
    reviewed_at = models.DateTimeField()
    appeal = models.TextField(blank=True)
    appealed_at = models.DateTimeField(null=True, blank=True)
    appeal_deadline = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # A rejection of work in a period already settled: what was taken back, net of the floor
    # pay, is capped so that the period still paid at least the floor (the rest is a top-up).
    settled_job = models.ForeignKey(
        SettlementJob, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    clawback = _money(default=ZERO)

    class Meta:
        indexes = [models.Index(fields=["project", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reason=""), name="review_rejection_reason"
            )
        ]

    def __str__(self) -> str:
        return f"review of annotation {self.annotation_id}: {self.status}"


class PriceChange(models.Model):
    """Why a project's price or estimate changed: the owner's edit, or an automatic raise after
    the measured median time put the implied rate under the floor. Never edited."""

    project = models.ForeignKey(
        "labeling.Project", on_delete=models.PROTECT, related_name="price_changes"
    )
    old_price = _money()
    new_price = _money()
    old_seconds = models.PositiveIntegerField()
    new_seconds = models.PositiveIntegerField()
    measured_annotations = models.PositiveIntegerField(default=0)
    reason = models.TextField()
    automatic = models.BooleanField(default=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"price of project {self.project_id}: {self.old_price} -> {self.new_price}"


class ReportJob(Job):
    """An auditor's report over a period (and optionally one project), computed by a job from
    the settlements, the working-time records and the ledger: reproducible, and it records the
    ledger head it ended at."""

    job_task = "payments.tasks.report"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    project = models.ForeignKey(
        "labeling.Project", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    summary = models.JSONField(default=dict, blank=True)
    details = models.JSONField(default=dict, blank=True)
    csv = models.TextField(blank=True)
    ledger_head = models.CharField(max_length=64, blank=True)
    ledger_last_entry = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta(Job.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="report_ordered")
        ]

    def __str__(self) -> str:
        return f"report {self.pk} ({self.status})"

    def job_failure_fields(self, message: str) -> dict[str, Any]:
        return {"error": message}


# --- worker voice: anonymous messages from annotators to auditors ------------------------------

VOICE_TEXT_MAX = 2000


class VoiceTopic(models.TextChoices):
    PAY = "pay", _("Pay")
    TIME = "time", _("Working time and breaks")
    CONTENT = "content", _("Harmful content")
    TREATMENT = "treatment", _("Treatment (reviews, rejections, respect)")
    OTHER = "other", _("Something else")


class VoiceMessage(models.Model):
    """An annotator's anonymous message to the auditors about one project.

    What is stored, and what is deliberately not (each a way a message could be tied to the
    person who sent it):
    - No author: no user, pseudonym, IP address, user agent, session or token is stored, and the
      row has no foreign key to anything but the project.
    - No timestamp: only `week`, the Monday (UTC) of the ISO week it was sent in. No
      auto_now/auto_now_add field, no `created_at`; the week is computed in UTC, not in the
      annotator's time zone (a Monday boundary in local time would hint where the author lives).
    - No order: the primary key is a random UUID (uuid4), not a sequence; lists are ordered by
      week, then topic, then that random key, never by insertion. There is no sequence to read.
    - The weekly limit is counted in `VoiceQuota`, a separate table of (annotator, week) ->
      count with no link to any message; past weeks' counters are deleted when the next message
      is sent, so it says nothing once the week is over.
    - The API and the page answer only {"status", "week"}: no id comes back that an auditor
      also sees, so a sender cannot be matched to a message by what it was told.
    - Logs: the voice paths are logged without identity (`fairlabel.log_filters.
      IdentityFreePaths` removes the request, its user and its address from every record about
      them, Django's and gunicorn's access lines alike). Django's messages framework is not
      used for the confirmation (no session write at the time of sending), and no cache holds
      these rows or pages (never_cache).
    - The admin does not register this model (no change history naming an admin, no list by
      insertion); admins read it on the auditors' page.
    - Only auditors and admins read messages; the project's owner never does (not in any page,
      API, export or report of its own).
    What remains, and is said on the sending page: the text itself, and the week; when very few
    people worked on a project in a week, an auditor who also reads the hours report may guess
    the author. Someone who reads the database's system columns (PostgreSQL xmin, physical order)
    or its write-ahead log could correlate a message with the counter written in its transaction:
    the promise is to owners, auditors and log readers, not to the database's operator.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="+")
    week = models.DateField(_("week of"))  # the Monday of the ISO week (UTC)
    topic = models.CharField(_("topic"), max_length=16, choices=VoiceTopic.choices)
    text = models.TextField(_("message"), max_length=VOICE_TEXT_MAX)

    class Meta:
        ordering = ["-week", "topic", "id"]  # id is random: never the order of sending
        indexes = [models.Index(fields=["project", "week"]), models.Index(fields=["week"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(topic__in=[t.value for t in VoiceTopic]), name="voice_topic_known"
            ),
            models.CheckConstraint(condition=~Q(text=""), name="voice_text_not_empty"),
        ]

    def __str__(self) -> str:
        return f"message about project {self.project_id}, week of {self.week}"


class VoiceQuota(models.Model):
    """How many messages one annotator sent in one week (FAIRLABEL_VOICE_PER_WEEK at most).
    Deliberately unlinked from the messages: it holds neither a project nor a message key, and
    rows of past weeks are deleted as soon as the next message is sent."""

    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    week = models.DateField()
    count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotator", "week"], name="voice_quota_once")
        ]
        indexes = [models.Index(fields=["week"])]

    def __str__(self) -> str:
        return f"{self.count} messages in the week of {self.week}"
