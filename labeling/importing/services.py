"""Import jobs: create one from an upload, run one (the Celery job calls import_job_run)."""

from __future__ import annotations

import logging
import posixpath
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.utils import timezone

from fairlabel.errors import DomainError
from labeling.importing.loader import ImportOutcome, Progress, tasks_import
from labeling.models import ImportFormat, ImportJob, JobStatus, Project

logger = logging.getLogger(__name__)

FORMAT_BY_EXTENSION = {
    ".jsonl": ImportFormat.JSONL,
    ".ndjson": ImportFormat.JSONL,
    ".json": ImportFormat.JSON,
    ".csv": ImportFormat.CSV,
    ".zip": ImportFormat.IMAGES_ZIP,
}


def import_format_detect(*, name: str, fmt: str | None = None) -> str:
    """The format asked for, or the one the file name says; DomainError when neither is known."""
    if fmt and fmt != "auto":
        if fmt not in ImportFormat.values:
            raise DomainError(
                "unknown_format",
                f"Unknown format {fmt!r}. Known: {', '.join(ImportFormat.values)}.",
                field="format",
            )
        return fmt
    extension = posixpath.splitext(name.lower())[1]
    detected = FORMAT_BY_EXTENSION.get(extension)
    if detected is None:
        raise DomainError(
            "unknown_format",
            f"Cannot tell the format of {name!r} from its name: choose one of "
            f"{', '.join(ImportFormat.values)}, or name the file .json, .jsonl, "
            ".csv or .zip.",
            field="format",
        )
    return detected


def import_job_create(*, project: Project, user, file: File, fmt: str | None = None) -> ImportJob:
    """Store the upload and enqueue its import after commit. Raises DomainError for an unknown
    format (400) or a file over FAIRLABEL_IMPORT_MAX_BYTES (413)."""
    name = posixpath.basename(str(file.name or "upload").replace("\\", "/")) or "upload"
    fmt = import_format_detect(name=name, fmt=fmt)
    size = file.size or 0
    limit = settings.FAIRLABEL_IMPORT_MAX_BYTES
    if size > limit:
        raise DomainError(
            "too_large",
            f"The file has {size:,} bytes; the limit is {limit:,}.",
            status=413,
            field="file",
        )
    from labeling.importing.tasks import import_tasks

    with transaction.atomic():
        job = ImportJob(
            project=project, created_by=user, original_name=name[:255], format=fmt, size_bytes=size
        )
        job.file.save(name, file, save=False)
        job.save()
        job_id = job.pk
        transaction.on_commit(lambda: import_tasks.delay(job_id=job_id))
    return job


class _ProgressWriter:
    """Saves progress to the job row from a second connection, so it shows while the loading
    transaction is still open. PostgreSQL only: SQLite allows one writer at a time, so there the
    job row is updated when the import ends."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.conn = None
        self.broken = False

    def __call__(self, progress: Progress) -> None:
        if self.broken:
            return
        try:
            if self.conn is None:
                self.conn = connections.create_connection(DEFAULT_DB_ALIAS)
                with self.conn.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '2s'")
            with self.conn.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ImportJob._meta.db_table} SET bytes_read = %s, total = %s, "  # noqa: S608
                    "imported = %s WHERE id = %s AND status = %s",
                    [
                        progress.bytes_read,
                        progress.total,
                        progress.imported,
                        self.job_id,
                        JobStatus.RUNNING,
                    ],
                )
        except DatabaseError:
            logger.warning("import %s: cannot save progress", self.job_id, exc_info=True)
            self.broken = True

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


# The Celery job's hard time limit (labeling/importing/tasks.py): past it, no worker runs it.
IMPORT_HARD_LIMIT = timedelta(seconds=3 * 3600 + 300)


def _progress_writer(job_id: int) -> _ProgressWriter | None:
    # Inside an outer transaction (a test, a caller's atomic block) the job row is locked by
    # that transaction: a second connection would wait on it forever.
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return None
    return _ProgressWriter(job_id)


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a pending import job (idempotent: a job done, failed or gone is left alone, and so is
    one running, unless it started longer ago than the job's hard time limit: its worker died,
    and as an import commits all or nothing, running it again is safe). All or nothing: a file
    with any bad row imports nothing."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return None
        stale = (
            job.status == JobStatus.RUNNING
            and job.started_at is not None
            and job.started_at < timezone.now() - IMPORT_HARD_LIMIT
        )
        if job.status != JobStatus.PENDING and not stale:
            return job
        job.status = JobStatus.RUNNING
        job.started_at = timezone.now()
        job.save(update_fields=["status", "started_at"])
    project = Project.objects.get(pk=job.project_id)
    writer = _progress_writer(job.pk)
    try:
        with job.file.open("rb") as stream:
            outcome = tasks_import(
                project=project,
                stream=stream,
                fmt=job.format,
                size=job.size_bytes,
                on_progress=writer,
            )
    except DatabaseError as exc:
        # A concurrent import of the same external ids, or the database going away.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        outcome = ImportOutcome(
            errors=[{"line": None, "message": f"the database refused the rows: {reason}"}],
            error_count=1,
        )
    except Exception:
        _job_finish(
            job, ImportOutcome(errors=[{"line": None, "message": "internal error"}], error_count=1)
        )
        raise
    finally:
        if writer is not None:
            writer.close()
    return _job_finish(job, outcome)


def _job_finish(job: ImportJob, outcome: ImportOutcome) -> ImportJob:
    job.status = JobStatus.DONE if outcome.ok else JobStatus.FAILED
    job.total = outcome.total
    job.imported = outcome.imported
    job.bytes_read = outcome.bytes_read or job.size_bytes
    job.errors = outcome.errors
    job.error_count = outcome.error_count
    job.finished_at = timezone.now()
    job.save(
        update_fields=[
            "status",
            "total",
            "imported",
            "bytes_read",
            "errors",
            "error_count",
            "finished_at",
        ]
    )
    return job


def import_job_payload(job: ImportJob) -> dict[str, Any]:
    """The API shape of a job (DESIGN.md), shared by the API and the page."""
    return {
        "id": job.pk,
        "status": job.status,
        "format": job.format,
        "original_name": job.original_name,
        "total": job.total,
        "imported": job.imported,
        "errors": job.errors,
        "error_count": job.error_count,
        "bytes_read": job.bytes_read,
        "size_bytes": job.size_bytes,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }
