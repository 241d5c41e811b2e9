"""Celery side of background jobs: the base every job task uses, and the beat sweep."""

from celery import Task, shared_task

from labeling.jobs import services


class JobTask(Task):
    """Base of every task that runs a job row. The row decides whether a delivery runs
    (job_claim), so the broker may deliver twice: acknowledge late and give the message back
    when the pool child dies. No result is stored: the row is the result (and publishing with
    the result backend down would hang the request that creates the job)."""

    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True


@shared_task(name="labeling.jobs_sweep", acks_late=True, soft_time_limit=60, time_limit=90)
def jobs_sweep() -> dict:
    """Beat: queue again the jobs whose worker died; publish the jobs the broker missed."""
    return vars(services.jobs_sweep())
