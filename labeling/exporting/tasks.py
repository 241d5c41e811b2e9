"""Celery jobs of exporting: thin wrappers that take ids and call one service."""

from celery import shared_task

from labeling.exporting import services
from labeling.jobs.tasks import JobTask


@shared_task(
    name="labeling.export_tasks", base=JobTask, soft_time_limit=55 * 60, time_limit=60 * 60
)
def export_tasks(*, job_id: int) -> str | None:
    """Write one export job's file and provenance record (idempotent: a done job is kept)."""
    job = services.export_job_run(job_id=job_id)
    return None if job is None else job.status
