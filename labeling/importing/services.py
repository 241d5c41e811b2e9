"""Import jobs: create one from an upload, run one (the Celery job calls import_job_run)."""

from __future__ import annotations

import logging
import posixpath
from contextlib import nullcontext
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from fairlabel.errors import DomainError
from fairlabel.messages import message_text
from labeling.importing.loader import ImportOutcome, Progress, tasks_import
from labeling.jobs.services import LeaseLost, job_claim, job_enqueue
from labeling.models import ImportFormat, ImportJob, JobStatus, Project

logger = logging.getLogger(__name__)

FORMAT_BY_EXTENSION = {
    ".jsonl": ImportFormat.JSONL,
    ".ndjson": ImportFormat.JSONL,
    ".json": ImportFormat.JSON,
    ".csv": ImportFormat.CSV,
    ".tsv": ImportFormat.CSV,
    ".zip": ImportFormat.IMAGES_ZIP,
}


def import_format_detect(*, name: str, fmt: str | None = None) -> str:
    """The format asked for, or the one the file name says; DomainError when neither is known."""
    if fmt and fmt != "auto":
        if fmt not in ImportFormat.values:
            raise DomainError(
                "unknown_format",
                _("Unknown format “%(fmt)s”. Known: %(known)s.")
                % {"fmt": fmt, "known": ", ".join(ImportFormat.values)},
                field="format",
            )
        return fmt
    extension = posixpath.splitext(name.lower())[1]
    detected = FORMAT_BY_EXTENSION.get(extension)
    if detected is None:
        raise DomainError(
            "unknown_format",
            _(
                "Cannot tell the format of “%(name)s” from its name: choose a format, or name "
                "the file .json, .jsonl, .csv or .zip."
            )
            % {"name": name},
            field="format",
        )
    return detected


def media_base_url_check(url: str) -> str:
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
        raise DomainError(
            "invalid",
            "The media base URL must be an http:// or https:// address.",
            field="media_base_url",
        )
    return url


def import_job_create(
    *,
    project: Project,
    user,
    file: File,
    fmt: str | None = None,
    media: File | None = None,
    media_base_url: str = "",
) -> ImportJob:
    """Store the upload and enqueue its import after commit. `media` (a zip of images) and
    `media_base_url` resolve the images the tasks reference by paths a browser cannot load
    (labeling.importing.media). Raises DomainError for an unknown format or a bad base URL
    (400) or a file over FAIRLABEL_IMPORT_MAX_BYTES (413)."""
    name = posixpath.basename(str(file.name or "upload").replace("\\", "/")) or "upload"
    fmt = import_format_detect(name=name, fmt=fmt)
    media_base_url = media_base_url_check(media_base_url or "")
    size = file.size or 0
    limit = settings.FAIRLABEL_IMPORT_MAX_BYTES
    for upload, field in ((file, "file"), (media, "media")):
        if upload is not None and (upload.size or 0) > limit:
            raise DomainError(
                "too_large",
                _("The file has %(size)s bytes; the limit is %(limit)s.")
                % {
                    "size": number_format(upload.size, force_grouping=True),
                    "limit": number_format(limit, force_grouping=True),
                },
                status=413,
                field=field,
            )
    with transaction.atomic():
        job = ImportJob(
            project=project,
            created_by=user,
            original_name=name[:255],
            format=fmt,
            size_bytes=size,
            media_base_url=media_base_url,
        )
        job.file.save(name, file, save=False)
        if media is not None:
            job.media.save("media.zip", media, save=False)
        job.save()
        job_enqueue(job=job)
    return job


class _ProgressWriter:
    """Saves progress (bytes and rows read) to the job row from a second connection, so it
    shows while the loading transaction is still open. Never `imported`: those rows are not
    committed yet, and a worker killed now would leave none of them. PostgreSQL only: SQLite
    allows one writer at a time, so there the job row is updated when the import ends."""

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
                    f"UPDATE {ImportJob._meta.db_table} SET bytes_read = %s, total = %s "  # noqa: S608
                    "WHERE id = %s AND status = %s",
                    [progress.bytes_read, progress.total, self.job_id, JobStatus.RUNNING],
                )
        except DatabaseError:
            logger.warning("import %s: cannot save progress", self.job_id, exc_info=True)
            self.broken = True

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


# The Celery job's hard time limit (labeling/importing/tasks.py).
IMPORT_HARD_LIMIT = timedelta(seconds=3 * 3600 + 300)
# What a run that died may have left on the row: the next run starts from nothing.
_FRESH = {
    "total": 0,
    "imported": 0,
    "bytes_read": 0,
    "errors": [],
    "error_count": 0,
    "finished_at": None,
}


def _media_of(job: ImportJob):
    return job.media.open("rb") if job.media else nullcontext()


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run an import job once (labeling/jobs): a job done, failed, gone or held by a live run
    is left alone; one whose worker died (its lease lapsed) runs again from the start. All or
    nothing: the tasks and the job's outcome commit in one transaction, so a run killed at any
    point leaves no tasks and no count of them, and a run presumed dead (its lease taken over)
    commits nothing."""
    claim = job_claim(model=ImportJob, job_id=job_id, reset=_FRESH)
    if claim is None:
        return ImportJob.objects.filter(pk=job_id).first()
    job = claim.job
    project = Project.objects.get(pk=job.project_id)
    # Inside an outer transaction (a test, a caller's atomic block) the job row is locked by
    # that transaction: a second connection would wait on it forever (so no heartbeat either).
    writer = (
        _ProgressWriter(job.pk) if claim.heartbeats and connection.vendor == "postgresql" else None
    )
    try:
        with claim.heartbeat(), transaction.atomic():
            try:
                with job.file.open("rb") as stream, _media_of(job) as media:
                    outcome = tasks_import(
                        project=project,
                        stream=stream,
                        fmt=job.format,
                        size=job.size_bytes,
                        on_progress=writer,
                        media=media,
                        media_base_url=job.media_base_url,
                    )
            except DatabaseError as exc:
                # A concurrent import of the same external ids: its savepoint is rolled back.
                reason = (
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                )
                outcome = ImportOutcome(
                    errors=[{"line": None, "message": f"the database refused the rows: {reason}"}],
                    error_count=1,
                )
            return claim.finish(
                status=JobStatus.DONE if outcome.ok else JobStatus.FAILED,
                total=outcome.total,
                imported=outcome.imported,
                bytes_read=outcome.bytes_read or job.size_bytes,
                errors=outcome.errors,
                error_count=outcome.error_count,
            )
    except LeaseLost:
        logger.warning("import %s: lease taken over; this run's rows were rolled back", job.pk)
        return ImportJob.objects.filter(pk=job_id).first()
    except Exception:
        claim.fail(message="internal error")
        raise
    finally:
        if writer is not None:
            writer.close()


def import_job_payload(job: ImportJob) -> dict[str, Any]:
    """The API shape of a job (DESIGN.md), shared by the API and the page."""
    return {
        "id": job.pk,
        "status": job.status,
        "format": job.format,
        "original_name": job.original_name,
        "total": job.total,
        "imported": job.imported,
        # Each message in the reader's language (stored with its msgid, written in English).
        "errors": [
            {**{k: v for k, v in e.items() if k != "msg"}, "message": message_text(e)}
            for e in job.errors
        ],
        "error_count": job.error_count,
        "bytes_read": job.bytes_read,
        "size_bytes": job.size_bytes,
        "created_at": job.created_at,
        "enqueued_at": job.enqueued_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "attempts": job.attempts,
    }
