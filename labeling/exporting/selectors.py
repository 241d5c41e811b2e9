"""Reads of export jobs, scoped to the project's owner (and admins), and the zip download."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator

from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.http import Http404

from labeling.models import ExportJob, JobStatus, Project
from labeling.selectors import project_owned


def export_jobs_of(project: Project, *, limit: int = 20) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(project=project).order_by("-created_at", "-id")[:limit]


def export_job_owned(*, user, job_id: int) -> ExportJob:
    """An export job of a project the user owns (admins: any); 404 otherwise."""
    job = ExportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise Http404
    job.project = project_owned(user=user, project_id=job.project_id)
    return job


def export_job_ready(*, user, job_id: int) -> ExportJob:
    job = export_job_owned(user=user, job_id=job_id)
    if job.status != JobStatus.DONE or not job.file or not job.provenance:
        raise Http404
    return job


def export_jobs_active(jobs) -> bool:
    return any(job.status in (JobStatus.PENDING, JobStatus.RUNNING) for job in jobs)


def export_filename(job: ExportJob, kind: str = "file") -> str:
    """A readable download name: the project title, the job and the format's extension."""
    from labeling.exporting.services import export_extension

    slug = re.sub(r"[^A-Za-z0-9]+", "-", job.project.title).strip("-").lower()[:60] or "project"
    stem = f"{slug}-export-{job.pk}"
    if kind == "provenance":
        return f"{stem}.provenance.json"
    if kind == "zip":
        return f"{stem}.zip"
    return f"{stem}.{export_extension(job.format)}"


class _Pipe:
    """A write-only, unseekable sink: zipfile writes into it, the response drains it."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def export_zip_stream(job: ExportJob) -> Iterator[bytes]:
    """The export file and its provenance record in one zip, produced while it is sent: the
    zip is never held whole in memory or on disk."""
    members: list[tuple[str, FieldFile]] = [
        (export_filename(job), job.file),
        (export_filename(job, "provenance"), job.provenance),
    ]
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, field in members:
            with field.open("rb") as source, archive.open(name, "w", force_zip64=True) as target:
                while chunk := source.read(1 << 20):
                    target.write(chunk)
                    yield pipe.drain()
            yield pipe.drain()
    yield pipe.drain()
