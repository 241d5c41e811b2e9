"""Celery jobs of importing: thin wrappers that take ids and call one service."""

from celery import shared_task

from labeling.importing import services
from labeling.jobs.tasks import JobTask


@shared_task(
    name="labeling.import_tasks",
    base=JobTask,
    soft_time_limit=3 * 3600,
    time_limit=int(services.IMPORT_HARD_LIMIT.total_seconds()),
)
def import_tasks(*, job_id: int) -> str | None:
    """Run one import job; a job done, failed or held by a live run is not run again."""
    job = services.import_job_run(job_id=job_id)
    return job.status if job is not None else None
