"""Celery jobs of payments: thin wrappers that take ids and call one service."""

from celery import shared_task

from labeling.jobs.tasks import JobTask
from payments import services


@shared_task(name="payments.settle", base=JobTask, soft_time_limit=55 * 60, time_limit=60 * 60)
def settle(*, job_id: int) -> None:
    """Run one settlement period (a SettlementJob row); a second delivery does nothing."""
    services.settlement_job_run(job_id=job_id)


@shared_task(name="payments.settle_due", acks_late=True, soft_time_limit=60, time_limit=90)
def settle_due() -> int | None:
    """Beat, daily: open the period that ended at the last UTC midnight (idempotent: an
    existing or running settlement is reused)."""
    from payments.selectors import last_period_end

    job = services.settlement_job_create(cutoff=last_period_end())
    return job.pk if job is not None else None


@shared_task(name="payments.reprice", acks_late=True, soft_time_limit=300, time_limit=330)
def reprice() -> int:
    """Beat: replace estimates by measured times, raising prices that fell under the floor."""
    return services.reprice_all()


@shared_task(name="payments.auto_approve", acks_late=True, soft_time_limit=600, time_limit=660)
def auto_approve() -> int:
    """Beat, daily: approve work nobody reviewed within FAIRLABEL_AUTO_APPROVE_DAYS."""
    return services.reviews_auto_approve()


@shared_task(name="payments.report", base=JobTask, soft_time_limit=25 * 60, time_limit=30 * 60)
def report(*, job_id: int) -> None:
    """Compute one auditor's report (a ReportJob row); a second delivery does nothing."""
    from payments.reports import report_job_run

    report_job_run(job_id=job_id)


@shared_task(
    name="payments.ledger_checkpoint", acks_late=True, soft_time_limit=25 * 60, time_limit=30 * 60
)
def ledger_checkpoint(*, full: bool = False) -> bool:
    """Beat: verify the ledger since its checkpoints (with `full`, from the first entry) and
    advance them, so that reports rehash only what is newer. Running it again changes nothing."""
    from django.utils import timezone

    from payments.ledger import checkpoints_advance

    return checkpoints_advance(now=timezone.now(), full=full).ok
