"""Read queries of imports, scoped to the project's owner (and admins)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from labeling.models import ImportJob, JobStatus, Project
from labeling.selectors import project_owned


def import_job_get(*, user, job_id: int) -> ImportJob:
    """The job, for the owner of its project (or an admin); 404 for everyone else."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise Http404
    job.project = project_owned(user=user, project_id=job.project_id)
    return job


def import_job_latest(*, project: Project) -> ImportJob | None:
    return project.imports.order_by("-created_at", "-id").first()


def import_job_view(job: ImportJob) -> dict[str, Any]:
    """What the progress fragment shows."""
    finished = job.status in (JobStatus.DONE, JobStatus.FAILED)
    errors = [
        {
            "where": (
                f"line {e['line']}" if isinstance(e.get("line"), int) else (e.get("line") or "file")
            ),
            "message": e.get("message", ""),
        }
        for e in job.errors
    ]
    size = max(job.size_bytes, 1)
    read = size if finished else min(job.bytes_read, size)
    return {
        "job": job,
        "finished": finished,
        "polling": not finished,
        "errors": errors,
        "more": max(job.error_count - len(errors), 0),
        "size": size,
        "read": read,
        "percent": round(100 * read / size),
    }
