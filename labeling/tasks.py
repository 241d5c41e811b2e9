"""Celery jobs of labeling: thin wrappers that take ids and call one service."""

from celery import shared_task

from labeling import dispatch


@shared_task(
    name="labeling.expire_assignments", acks_late=True, soft_time_limit=120, time_limit=150
)
def expire_assignments() -> int:
    """Beat: release abandoned assignments so their slot returns to the queue (idempotent)."""
    return dispatch.assignments_expire()
