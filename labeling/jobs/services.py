"""Claim, renew, finish, enqueue and sweep background jobs (see labeling/jobs/__init__.py)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError as BrokerError

from labeling.jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)

# Creating a job must answer quickly with the broker down (Celery's defaults retried for 19 s,
# most of it the result backend, which jobs do not use): a connection of its own whose connect is
# bounded by this timeout, and one quick retry (a Redis that is restarting). Measured: 0.1-0.3 s
# when the port is closed, 0.5 s when the address drops packets.
PUBLISH_CONNECT_SECONDS = 0.5
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# A pending job that the broker accepted but no worker started for this many leases is published
# again (its message may have been lost with a Redis that keeps no data on disk). A duplicate is
# harmless: the claim lets one run through.
REPUBLISH_AFTER_LEASES = 15
SWEEP_BATCH = 500


class LeaseLost(Exception):
    """The job's lease was taken over (this run was presumed dead): its work must not commit."""


def _seconds(value) -> timedelta:
    # Decimal seconds (fractions allowed) to whole microseconds, without a float.
    return timedelta(microseconds=int(value * 1_000_000))


def lease_duration() -> timedelta:
    return _seconds(settings.FAIRLABEL_JOB_LEASE_SECONDS)


def job_models() -> list[type[Job]]:
    """Every concrete job kind of every installed app."""
    return [m for m in apps.get_models() if issubclass(m, Job) and not m._meta.abstract]


# --- the worker's side -------------------------------------------------------------------------


@dataclass
class JobClaim:
    """One run's hold on a job: renewed by a heartbeat, and required to finish the job."""

    job: Job
    token: uuid.UUID
    # False when the claim was made inside an outer transaction (a test, a caller's atomic
    # block): the row stays locked by it, so no other connection may write the lease.
    heartbeats: bool = True
    lost: threading.Event = field(default_factory=threading.Event)

    def held(self):
        """The job's row, while this run holds its lease (empty once taken over)."""
        return type(self.job).objects.filter(
            pk=self.job.pk, lease_token=self.token, status=JobStatus.RUNNING
        )

    def renew(self, *, now: datetime | None = None) -> bool:
        """Push the lease forward; False when it was taken over (the run must stop)."""
        renewed = self.held().update(lease_expires_at=(now or timezone.now()) + lease_duration())
        if not renewed:
            self.lost.set()
        return bool(renewed)

    def finish(self, *, status: str, **fields: Any) -> Job:
        """Record the outcome, only if this run still holds the lease (else LeaseLost). Call it
        inside the transaction that commits the job's work, so both land or neither does."""
        fields.update(
            status=status,
            finished_at=timezone.now(),
            lease_token=None,
            lease_expires_at=None,
            lease_owner="",
        )
        if not self.held().update(**fields):
            self.lost.set()
            raise LeaseLost(f"{self.job._meta.label} {self.job.pk}: the lease was taken over")
        for name, value in fields.items():
            setattr(self.job, name, value)
        return self.job

    def fail(self, *, message: str) -> Job | None:
        """Record a failure outside the job's transaction; None when the lease was taken over."""
        try:
            return self.finish(status=JobStatus.FAILED, **self.job.job_failure_fields(message))
        except LeaseLost:
            return None

    @contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Renew the lease from a thread (with its own database connection) every quarter of
        the lease while the block runs. The thread dies with the process, so a killed worker
        stops renewing; a run that is merely slow keeps its job."""
        if not self.heartbeats:
            yield
            return
        stop = threading.Event()
        interval = lease_duration().total_seconds() / 4
        thread = threading.Thread(
            target=self._beat, args=(stop, interval), name=f"lease-{self.job.pk}", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=interval + 5)

    def _beat(self, stop: threading.Event, interval: float) -> None:
        from django.db import connection as own  # this thread's connection

        try:
            if own.vendor == "sqlite":
                # An import holds SQLite's only write lock for its whole transaction: do not
                # queue behind it (the lease is fenced at the finish anyway).
                own.ensure_connection()
                with own.cursor() as cursor:
                    cursor.execute("PRAGMA busy_timeout = 200")
            while not stop.wait(interval):
                try:
                    if not self.renew():
                        logger.warning("%s %s: lease taken over", self.job._meta.label, self.job.pk)
                        return
                except DatabaseError as exc:
                    # SQLite while an import holds its write lock, or the database away for a
                    # moment: try again at the next beat; the finish is fenced either way.
                    logger.warning(
                        "%s %s: cannot renew the lease (%s)", self.job._meta.label, self.job.pk, exc
                    )
        finally:
            own.close()


def job_claim(
    *, model: type[Job], job_id: int, reset: dict[str, Any] | None = None
) -> JobClaim | None:
    """Take a job to run: pending, or running under a lapsed lease (its worker died). None when
    it is gone, finished, or held by a live run, which makes every delivery after the first a
    no-op. `reset` clears what a previous, dead run may have left (progress counters). A job
    that has used up FAIRLABEL_JOB_MAX_ATTEMPTS, or was killed at its time limit, is failed
    instead."""
    outer = connection.in_atomic_block
    now = timezone.now()
    with transaction.atomic():
        job = model.objects.select_for_update(of=("self",)).filter(pk=job_id).first()
        if job is None or job.status not in (JobStatus.PENDING, JobStatus.RUNNING):
            return None
        if job.status == JobStatus.RUNNING:
            live = job.lease_expires_at is not None and job.lease_expires_at > now
            if live and not _holder_is_gone(job):
                return None
            reason = _why_not_again(job, now=now)
        else:
            reason = _attempts_used_up(job)
        if reason is not None:
            _give_up(job, now=now, reason=reason)
            return None
        token = uuid.uuid4()
        fields = {
            "status": JobStatus.RUNNING,
            "attempts": job.attempts + 1,
            "lease_token": token,
            "lease_expires_at": now + lease_duration(),
            "lease_owner": _me(),
            "started_at": now,
            **(reset or {}),
        }
        for name, value in fields.items():
            setattr(job, name, value)
        job.save(update_fields=list(fields))
    return JobClaim(job=job, token=token, heartbeats=not outer)


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def _holder_is_gone(job: Job) -> bool:
    """The lease's holder was a process of this machine that no longer exists: a pool child
    killed by SIGKILL or the OOM killer, whose message Celery gave back (reject_on_worker_lost).
    Taking over at once spares waiting for the lease to lapse. Anything unsure (another
    machine, a live or reused pid, no permission to ask) says no: the lease then decides."""
    host, _, pid = job.lease_owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _attempts_used_up(job: Job) -> str | None:
    if job.attempts < settings.FAIRLABEL_JOB_MAX_ATTEMPTS:
        return None
    return (
        f"the worker running this job stopped {job.attempts} times; it was not run again "
        "(try a smaller file, or ask an administrator)"
    )


def _why_not_again(job: Job, *, now: datetime) -> str | None:
    """Why a job whose lease lapsed must not run again, or None. Past its task's hard time
    limit, Celery killed it: running it again would only be killed again, hours later."""
    limit = getattr(import_string(type(job).job_task), "time_limit", None)
    if limit and job.started_at is not None and job.started_at + timedelta(seconds=limit) <= now:
        return (
            f"stopped at its time limit of {limit // 60} minutes; it was not run again "
            "(try a smaller file, or ask an administrator)"
        )
    return _attempts_used_up(job)


def _give_up(job: Job, *, now: datetime, reason: str) -> None:
    fields = {
        "status": JobStatus.FAILED,
        "finished_at": now,
        "lease_token": None,
        "lease_expires_at": None,
        "lease_owner": "",
        **job.job_failure_fields(reason),
    }
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=list(fields))
    logger.error("%s %s failed: %s", job._meta.label, job.pk, reason)


# --- the broker's side ---------------------------------------------------------------------------


def job_publish(*, model: type[Job], job_id: int) -> bool:
    """Hand the job to the broker, bounded in time; False (logged) when the broker cannot take
    it, and the sweep will try again. The job's row records when the broker took it."""
    from fairlabel.celery import app

    task = import_string(model.job_task)
    options = {
        **(app.conf.broker_transport_options or {}),
        "max_retries": 0,
        "socket_connect_timeout": PUBLISH_CONNECT_SECONDS,
        "socket_timeout": PUBLISH_CONNECT_SECONDS * 2,
    }
    try:
        with app.connection_for_write(transport_options=options) as conn:
            task.apply_async(
                kwargs={"job_id": job_id},
                connection=conn,
                retry=True,
                retry_policy=PUBLISH_RETRY_POLICY,
            )
    except BrokerError as exc:  # kombu raises connection failures as this, and only those
        logger.warning(
            "%s %s: the broker did not take the job (%s); the sweep will retry",
            model._meta.label,
            job_id,
            exc,
        )
        return False
    model.objects.filter(pk=job_id, status=JobStatus.PENDING).update(enqueued_at=timezone.now())
    return True


def job_enqueue(*, job: Job) -> None:
    """Publish the job once the current transaction commits (outbox: if the broker does not
    take it, the job stays pending for the sweep, and the request still succeeds)."""
    model, job_id = type(job), job.pk
    transaction.on_commit(lambda: job_publish(model=model, job_id=job_id))


@dataclass
class SweepResult:
    requeued: int = 0  # running jobs whose lease lapsed, back to pending
    failed: int = 0  # ...or failed, their attempts used up
    published: int = 0
    unpublished: int = 0  # the broker did not take them: next sweep


def jobs_sweep(*, now: datetime | None = None) -> SweepResult:
    """The beat job: return jobs whose worker died to the queue, and publish jobs the broker has
    not taken yet. Idempotent: a job published twice runs once (job_claim)."""
    now = now or timezone.now()
    result = SweepResult()
    lease = lease_duration()
    for model in job_models():
        lapsed = list(
            model.objects.filter(status=JobStatus.RUNNING)
            .filter(Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True))
            .order_by("pk")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        for job_id in lapsed:
            with transaction.atomic():
                job = (
                    model.objects.select_for_update(of=("self",), skip_locked=True)
                    .filter(pk=job_id, status=JobStatus.RUNNING)
                    .filter(Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True))
                    .first()
                )
                if job is None:
                    continue
                reason = _why_not_again(job, now=now)
                if reason is not None:
                    _give_up(job, now=now, reason=reason)
                    result.failed += 1
                    continue
                logger.warning(
                    "%s %s: lease lapsed (worker died?), queued again", model._meta.label, job.pk
                )
                job.status, job.lease_token, job.lease_expires_at = JobStatus.PENDING, None, None
                job.lease_owner, job.enqueued_at = "", None
                job.save(
                    update_fields=[
                        "status",
                        "lease_token",
                        "lease_expires_at",
                        "lease_owner",
                        "enqueued_at",
                    ]
                )
                result.requeued += 1
        waiting = (
            model.objects.filter(status=JobStatus.PENDING)
            .filter(
                Q(enqueued_at__isnull=True)
                | Q(enqueued_at__lt=now - lease * REPUBLISH_AFTER_LEASES)
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        for job_id in list(waiting):
            if job_publish(model=model, job_id=job_id):
                result.published += 1
            else:
                result.unpublished += 1
                break  # the broker is down: the next sweep tries again
    return result
