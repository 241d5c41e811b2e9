"""Projects, tasks, assignments (the dispatcher's claims), annotations, import and export jobs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from labeling.jobs.models import Job
from labeling.jobs.models import JobStatus as JobStatus  # still importable from here


class TaskType(models.TextChoices):
    TEXT_CLASSIFICATION = "text_classification", _("Text classification")
    MULTI_LABEL = "multi_label", _("Multi-label text classification")
    TEXT_SPANS = "text_spans", _("Text spans (named entities)")
    IMAGE_CLASSIFICATION = "image_classification", _("Image classification")
    IMAGE_BOXES = "image_boxes", _("Image bounding boxes")


class Category(models.TextChoices):
    VIOLENCE = "violence", _("Violence")
    GORE = "gore", _("Gore")
    SEXUAL = "sexual", _("Sexual content")
    SELF_HARM = "self_harm", _("Self-harm")
    HATE = "hate", _("Hate")
    CHILD_SAFETY = "child_safety", _("Child safety")
    OTHER_DISTURBING = "other_disturbing", _("Other disturbing content")


class Project(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        PAUSED = "paused", _("Paused")
        CLOSED = "closed", _("Closed")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="projects"
    )
    title = models.CharField(_("title"), max_length=200)
    instructions = models.TextField(
        _("instructions"), blank=True, help_text=_("Markdown; rendered safely.")
    )
    task_type = models.CharField(_("task type"), max_length=32, choices=TaskType.choices)
    # Normalised to [{"value", "color", "hotkey"}] by the services.
    labels = models.JSONField(_("labels"), default=list)
    annotations_per_task = models.PositiveSmallIntegerField(
        _("annotations per task"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
    )
    content_categories = models.JSONField(_("content categories"), default=list, blank=True)
    price_per_task = models.DecimalField(
        _("price per task"), max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    estimated_seconds_per_task = models.PositiveIntegerField(
        _("estimated seconds per task"), default=30, validators=[MinValueValidator(1)]
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price_per_task__gte=0), name="project_price_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(annotations_per_task__gte=1) & Q(annotations_per_task__lte=50),
                name="project_overlap_range",
            ),
            models.CheckConstraint(
                condition=Q(estimated_seconds_per_task__gte=1), name="project_estimate_positive"
            ),
        ]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_sensitive(self) -> bool:
        return bool(self.content_categories)


class Task(models.Model):
    """One item to label. `slots_free` is the dispatcher's maintained counter: how many more
    annotators may still be handed this task (annotations_per_task minus live claims)."""

    # Indexed by ("project", "id") below, which also serves the foreign key: one index fewer
    # to maintain on bulk imports. No database-level constraint: PostgreSQL checks a foreign key
    # row by row (5 s of a 1M-row import); the import holds the project row FOR SHARE
    # instead, which is the same guarantee, checked once. Deletes cascade through the ORM.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="tasks", db_index=False, db_constraint=False
    )
    # NULL, not "": tasks without an external id must not collide in the unique constraint.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    data = models.JSONField()
    # Its own categories: None, the project's apply; []: the import row marked it safe.
    categories = models.JSONField(null=True, blank=True)
    # Its effective categories, one bit each (labeling.categories): the one value the dispatcher,
    # the access checks and the page's protections read; 0 is safe. Kept true by the services
    # that change it (import, flag, an edit of the project's categories).
    category_mask = models.PositiveSmallIntegerField(default=0, db_default=0)
    predictions = models.JSONField(null=True, blank=True)
    slots_free = models.PositiveSmallIntegerField()
    annotation_count = models.PositiveSmallIntegerField(db_default=0, default=0)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=Q(external_id__isnull=False),
                name="task_unique_external_id",
            ),
        ]
        indexes = [
            # The dispatcher walks this: open tasks of a project, closest to done first.
            models.Index(
                fields=["project", "slots_free", "id"],
                condition=Q(slots_free__gt=0),
                name="task_dispatch_idx",
            ),
            # The same walk per set of effective categories: a restricted annotator (no
            # sensitive work left today, consent for some categories only) walks the sets it
            # may take (category_mask 0 alone: safe tasks only), at the same cost however
            # sensitive the project is.
            models.Index(
                fields=["project", "category_mask", "slots_free", "id"],
                condition=Q(slots_free__gt=0),
                name="task_dispatch_mask_idx",
            ),
            models.Index(fields=["project", "annotation_count"], name="task_progress_idx"),
            # Exports and task lists walk a project's tasks in id order by keyset.
            models.Index(fields=["project", "id"], name="task_project_id_idx"),
        ]

    def __str__(self) -> str:
        return f"task {self.pk}"

    @property
    def is_sensitive(self) -> bool:
        return bool(self.category_mask)


class Assignment(models.Model):
    """A claim: one annotator was handed one task. At most one open per annotator and project;
    never twice the same task to the same annotator."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SUBMITTED = "submitted", _("Submitted")
        SKIPPED = "skipped", _("Skipped")
        EXPIRED = "expired", _("Expired")

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    served_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Whether this claim currently holds one of the task's slots.
    holds_slot = models.BooleanField(default=True)
    # Active time on this task, from the annotator's heartbeats and actions: a gap longer than
    # FAIRLABEL_IDLE_SECONDS is idle and not counted. Reading a task and skipping it is work too.
    active_seconds = models.DecimalField(
        max_digits=12, decimal_places=3, default=Decimal("0"), db_default=Decimal("0")
    )
    last_active_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task", "annotator"], name="assignment_once_per_annotator"
            ),
            models.UniqueConstraint(
                fields=["annotator", "project"],
                condition=Q(status="open"),
                name="assignment_one_open_per_project",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(status="open"), name="assignment_open_expiry_idx"
            ),
            models.Index(fields=["annotator", "served_at"]),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class Annotation(models.Model):
    assignment = models.OneToOneField(
        Assignment, on_delete=models.CASCADE, related_name="annotation"
    )
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="annotations")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations"
    )
    result = models.JSONField()
    # Active time, measured server-side from heartbeats (Assignment.active_seconds at submit).
    seconds = models.DecimalField(max_digits=10, decimal_places=3)
    # Submitted after its slot went to someone else: kept, never dropped, but not counted.
    is_extra = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["project", "task"]),
            models.Index(fields=["annotator", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(seconds__gte=0), name="annotation_seconds_non_negative"
            )
        ]

    def __str__(self) -> str:
        return f"annotation {self.pk}"


class ImportFormat(models.TextChoices):
    JSON = "json", "JSON"
    JSONL = "jsonl", "JSON Lines"
    CSV = "csv", "CSV"
    LABEL_STUDIO = "label_studio", "Label Studio"
    IMAGES_ZIP = "images_zip", _("Zip of images")


class ExportFormat(models.TextChoices):
    JSON = "json", "JSON"
    JSONL = "jsonl", "JSON Lines"
    CSV = "csv", "CSV"
    LABEL_STUDIO = "label_studio", "Label Studio"
    CONLL2003 = "conll2003", "CoNLL 2003"
    COCO = "coco", "COCO"


class ImportJob(Job):
    job_task = "labeling.importing.tasks.import_tasks"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=500)
    original_name = models.CharField(max_length=255, blank=True)
    # Where images the tasks reference by a path a browser cannot load come from
    # (labeling.importing.media): a zip uploaded alongside, or a base URL.
    media = models.FileField(upload_to="imports/%Y/%m/", max_length=500, blank=True)
    media_base_url = models.URLField(max_length=500, blank=True)
    format = models.CharField(max_length=16, choices=ImportFormat.choices)
    size_bytes = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)

    class Meta(Job.Meta):
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"

    def job_failure_fields(self, message: str) -> dict[str, Any]:
        return {"errors": [{"line": None, "message": message}], "error_count": 1, "imported": 0}


class ExportJob(Job):
    job_task = "labeling.exporting.tasks.export_tasks"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    only_finished = models.BooleanField(default=False)
    majority = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0)
    exported = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="exports/%Y/%m/", max_length=500, blank=True)
    provenance = models.FileField(upload_to="exports/%Y/%m/", max_length=500, blank=True)
    error = models.TextField(blank=True)

    class Meta(Job.Meta):
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}, {self.status})"

    def job_failure_fields(self, message: str) -> dict[str, Any]:
        return {"error": message}


class PolicyOverride(models.Model):
    """An admin's value for one FAIRLABEL_* policy, in force instead of the setting."""

    name = models.CharField(max_length=64, unique=True)
    value = models.CharField(max_length=32)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"


class PolicyChange(models.Model):
    """The audit row of every policy change: who, when, old and new value. Never edited."""

    name = models.CharField(max_length=64)
    old_value = models.CharField(max_length=32)
    new_value = models.CharField(max_length=32)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name}: {self.old_value} -> {self.new_value}"


class TaskFlag(models.Model):
    """An annotator flagged a task as disturbing: from then on the task carries the category
    for everyone. Owners see flags (by pseudonym)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="flags")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="flags")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    category = models.CharField(max_length=32, choices=Category.choices)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator", "category"], name="task_flag_once")
        ]
        indexes = [models.Index(fields=["project", "created_at"])]

    def __str__(self) -> str:
        return f"flag {self.category} on {self.task_id}"
