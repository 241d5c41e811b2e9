"""What every job's API shape says about its run: job serializers extend JobOut."""

from rest_framework import serializers

from labeling.jobs.models import JobStatus


class JobOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=JobStatus.choices,
        help_text="pending: accepted and waiting for a worker; running; done; failed.",
    )
    created_at = serializers.DateTimeField()
    enqueued_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the job queue took the job. Null on a pending job: the queue (broker) "
        "was unreachable; the job is kept and handed over as soon as it is back.",
    )
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField(
        help_text="Runs started: more than 1 when a worker died during the job and it ran again "
        "from the start (a run that died leaves nothing behind)."
    )
