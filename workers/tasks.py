"""Celery jobs of workers: thin wrappers that call one service; idempotent."""

from celery import shared_task

from workers import services


@shared_task(
    name="workers.close_idle_sessions", acks_late=True, soft_time_limit=120, time_limit=150
)
def close_idle_sessions() -> int:
    """Beat: close sessions with no heartbeat for FAIRLABEL_SESSION_TIMEOUT_MINUTES."""
    return services.work_sessions_close()


@shared_task(name="workers.roll_up_work_days", acks_late=True, soft_time_limit=600, time_limit=660)
def roll_up_work_days() -> int:
    """Beat: rebuild the recent days' roll-up from the raw records (running it twice is a no-op)."""
    return services.work_days_roll_up()
