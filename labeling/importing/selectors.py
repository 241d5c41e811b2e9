"""Read queries of imports, scoped to the project's owner (and admins)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _

from fairlabel.messages import message_text
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
    entries = [
        {
            "where": (
                _("line %(n)s") % {"n": e["line"]}
                if isinstance(e.get("line"), int)
                else (e.get("line") or _("the file"))
            ),
            "message": message_text(e),
            "warning": e.get("level") == "warning",
        }
        for e in job.errors
    ]
    errors = [e for e in entries if not e["warning"]]
    warnings = [e for e in entries if e["warning"]]
    size = max(job.size_bytes, 1)
    read = size if finished else min(job.bytes_read, size)
    return {
        "job": job,
        "finished": finished,
        "polling": not finished,
        "errors": errors,
        "warnings": warnings,
        "more": max(job.error_count - len(errors), 0),
        "size": size,
        "read": read,
        "percent": round(100 * read / size),
    }
