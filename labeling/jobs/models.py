"""What every background job row carries: its status and the lease of the worker running it."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING)


class Job(models.Model):
    """A background job: a row the API shows, run by the Celery task named in `job_task`, which
    takes `job_id` and calls a service that runs through `labeling.jobs.services.job_claim`."""

    # Dotted path of the Celery task that runs a job of this kind (it takes `job_id=`).
    job_task: ClassVar[str]

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the broker last accepted the job's message; null while it waits for the broker.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # How many runs were started; a job whose worker keeps dying is failed after a few.
    attempts = models.PositiveSmallIntegerField(default=0)
    # The running worker's claim: only the holder of the token may finish the job, and the claim
    # lapses unless the worker renews it.
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # "host:pid" of the process holding the lease: a redelivered message on the same machine can
    # see that this process is gone (a pool child killed) and take over without waiting.
    lease_owner = models.CharField(max_length=255, blank=True, editable=False)

    class Meta:
        abstract = True
        indexes = [
            # The sweep reads only the jobs not finished yet.
            models.Index(
                fields=["status", "lease_expires_at"],
                condition=Q(status__in=ACTIVE),
                name="%(app_label)s_%(class)s_active",
            )
        ]

    def job_failure_fields(self, message: str) -> dict[str, Any]:
        """The fields that record why the job failed, in the shape this kind shows them."""
        raise NotImplementedError
