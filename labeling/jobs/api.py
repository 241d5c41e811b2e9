"""What every job's API shape says about the queue (the job serializers use these)."""

ENQUEUED_HELP = (
    "When the job queue took the job. Null on a pending job: the queue (broker) was unreachable; "
    "the job is kept and handed over as soon as it is back."
)
ATTEMPTS_HELP = (
    "Runs started: more than 1 when a worker died during the job and it ran again from the "
    "start (a run that died leaves nothing behind)."
)
