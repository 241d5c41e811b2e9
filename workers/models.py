"""Working time and exposure: sessions, activity spans, breaks, consent, the live standing the
gates read, and the daily roll-up."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

ZERO = Decimal("0.000")


def _seconds(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=3, default=ZERO, **kwargs)


class WorkSession(models.Model):
    """A stretch of presence: opens on the first heartbeat, closes at the last heartbeat once
    none came for FAIRLABEL_SESSION_TIMEOUT_MINUTES. At most one open per annotator."""

    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="work_sessions"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotator"],
                condition=Q(ended_at__isnull=True),
                name="work_session_one_open",
            )
        ]
        indexes = [models.Index(fields=["annotator", "started_at"])]

    def __str__(self) -> str:
        return f"session {self.pk}"


class WorkSpan(models.Model):
    """Contiguous activity of one kind in one project: the raw record that working time is
    rebuilt from. Heartbeat-level data: only its annotator sees it."""

    class Kind(models.TextChoices):
        TASK = "task", _("Labeling")
        INSTRUCTIONS = "instructions", _("Reading instructions")

    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="work_spans"
    )
    session = models.ForeignKey(WorkSession, on_delete=models.PROTECT, related_name="spans")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    project = models.ForeignKey(
        "labeling.Project", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    # Active seconds in [started_at, ended_at]: the span's length minus idle gaps and breaks.
    seconds = _seconds()
    sensitive = models.BooleanField(default=False)
    # The content categories of the task(s) worked on in this span (a span splits when they change).
    categories = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["annotator", "started_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(seconds__gte=0), name="work_span_seconds_positive"),
            models.CheckConstraint(
                condition=Q(ended_at__gte=models.F("started_at")), name="work_span_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} span {self.pk}"


class Break(models.Model):
    """A paid break: due after a stretch of work, the long break of the day, taken freely, or the
    cool-down waited out. Breaks of one annotator never overlap: one ends (`ended_at`) before
    the next starts. Paid time is `paid_seconds`, from `started_at`."""

    class Kind(models.TextChoices):
        DUE = "due", _("Break after continuous work")
        SENSITIVE = "sensitive", _("Break after sensitive work")
        LONG = "long", _("Long break of the day")
        VOLUNTARY = "voluntary", _("Break you chose to take")
        RECOVERY = "recovery", _("Recovery break after sensitive content")
        # Waiting out the cool-down after a run of sensitive items, with nothing else to serve.
        COOLDOWN = "cooldown", _("Paid cool-down after a run of sensitive items")

    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="breaks"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # Set when a break ends early: a voluntary or recovery break ended by its annotator, a
    # cool-down when the annotator works again before it is over.
    ended_at = models.DateTimeField(null=True, blank=True)
    # Seconds of this break that count as paid time (a voluntary break: up to the allowance).
    paid_seconds = _seconds()

    class Meta:
        indexes = [models.Index(fields=["annotator", "started_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gte=models.F("started_at")), name="break_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} break {self.pk}"


class WorkState(models.Model):
    """The annotator's live standing, kept by every heartbeat and action in the same
    transaction, so the gates decide from one row (and hold when Celery is down)."""

    annotator = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="work_state",
    )
    last_beat_at = models.DateTimeField(null=True, blank=True)
    session = models.ForeignKey(
        WorkSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    span = models.ForeignKey(
        WorkSpan, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Work since the last break (or a pause as long as one).
    stretch_seconds = _seconds()
    stretch_sensitive = models.BooleanField(default=False)
    break_kind = models.CharField(max_length=16, blank=True)
    break_started_at = models.DateTimeField(null=True, blank=True)
    break_until = models.DateTimeField(null=True, blank=True)
    # The current working day, in the annotator's time zone.
    day = models.DateField(null=True, blank=True)
    day_seconds = _seconds()
    day_break_seconds = _seconds()
    day_long_break = models.BooleanField(default=False)
    # The last activity before the current day began, and how many days in a row it continues.
    prev_last_at = models.DateTimeField(null=True, blank=True)
    streak_days = models.PositiveSmallIntegerField(default=0)
    # The Monday of the current week, in the annotator's time zone.
    week = models.DateField(null=True, blank=True)
    week_seconds = _seconds()
    # Exposure, for the current day: sensitive time in total and per category ({name: seconds}).
    day_sensitive_seconds = _seconds()
    day_category_seconds = models.JSONField(default=dict, blank=True)
    # Sensitive tasks served in a row, and the end of the cool-down once the run is long enough.
    sensitive_streak = models.PositiveIntegerField(default=0)
    cooldown_until = models.DateTimeField(null=True, blank=True)
    # "No more sensitive work today": the local day it was chosen.
    sensitive_stopped_day = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"work state of {self.annotator_id}"


class WorkDay(models.Model):
    """The daily roll-up, per annotator and day in its time zone. Rebuilt from the raw records
    (spans, breaks, annotations), so rebuilding again changes nothing."""

    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="work_days"
    )
    day = models.DateField()
    active_seconds = _seconds()
    instruction_seconds = _seconds()
    break_seconds = _seconds()
    # Time on tasks with content categories, in total and per category ({name: seconds}).
    sensitive_seconds = _seconds()
    category_seconds = models.JSONField(default=dict, blank=True)
    tasks_done = models.PositiveIntegerField(default=0)
    first_at = models.DateTimeField(null=True, blank=True)
    last_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["annotator", "day"]
        constraints = [
            models.UniqueConstraint(fields=["annotator", "day"], name="work_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator_id} {self.day}"


class Consent(models.Model):
    """The categories of a project's content an annotator agreed to see. Withdrawing is sending
    fewer; every change is a ConsentEvent. No effect on pay owed."""

    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    project = models.ForeignKey(
        "labeling.Project", on_delete=models.CASCADE, related_name="+", db_constraint=True
    )
    categories = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotator", "project"], name="consent_unique")
        ]

    def __str__(self) -> str:
        return f"consent {self.annotator_id}/{self.project_id}"


class ConsentEvent(models.Model):
    """The history of a consent: what was given or withdrawn, and when. Never edited."""

    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    given = models.JSONField(default=list)
    withdrawn = models.JSONField(default=list)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["annotator", "project", "at"])]

    def __str__(self) -> str:
        return f"consent event {self.pk}"


# The blur of sensitive images on the protective display, in CSS pixels.
BLUR_MIN_PX, BLUR_MAX_PX, BLUR_DEFAULT_PX = 2, 40, 16


class DisplayPreference(models.Model):
    """How a person wants sensitive content shown: its own blur strength. Kept on the server so
    that every device shows the first paint of a sensitive image with it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="display_preference",
    )
    blur_px = models.PositiveSmallIntegerField(default=BLUR_DEFAULT_PX)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(blur_px__gte=BLUR_MIN_PX) & Q(blur_px__lte=BLUR_MAX_PX),
                name="display_blur_range",
            )
        ]

    def __str__(self) -> str:
        return f"display preference of {self.user_id}"


class RefusalDay(models.Model):
    """How often the dispatcher refused an annotator a task, per project, rule and day (in the
    annotator's time zone): the evidence that hours limits and exposure caps were applied. A
    client that asks again and again during one break adds to `count`, not to the rows."""

    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refusal_days"
    )
    project = models.ForeignKey(
        "labeling.Project", on_delete=models.PROTECT, related_name="refusal_days"
    )
    day = models.DateField()
    code = models.CharField(max_length=40)
    count = models.PositiveIntegerField(default=1)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        ordering = ["day", "annotator", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["annotator", "project", "day", "code"], name="refusal_day_unique"
            ),
        ]
        indexes = [models.Index(fields=["first_at"], name="refusal_day_first_idx")]

    def __str__(self) -> str:
        return f"{self.annotator_id} {self.day} {self.code} x{self.count}"
