"""Background jobs that survive a dead worker or a dead broker: one mechanism for every job kind.

A job is a database row (a concrete subclass of `labeling.jobs.models.Job`) and a Celery task
that takes its id. The row, not the broker, is the source of truth:

- **Outbox.** Creating a job commits the row `pending`; after commit one bounded attempt hands
  the id to the broker (`job_enqueue`). If the broker is down the request still answers at once
  with the row (`enqueued_at` null: "waiting for the queue"), and the beat sweep publishes it when
  the broker is back.
- **Lease.** A worker claims a job by writing a fresh `lease_token` and `lease_expires_at` on the
  row in one locked statement (`job_claim`); a thread of the worker renews the lease while the
  job runs (`JobClaim.heartbeat`). A worker killed with SIGKILL stops renewing, and the beat
  sweep (`jobs_sweep`) puts the job back to `pending` and publishes it again once its lease has
  lapsed: within lease + sweep interval (60 s + 30 s by default), not the broker's visibility
  timeout (hours), whether the pool child or the whole worker died. When only the pool child
  died, Celery gives the message back at once and the next child sees from `lease_owner`
  (host:pid) that the holder is gone from this machine: it takes over without waiting.
- **Fencing.** The run's final write (`JobClaim.finish`) only lands if the row still carries its
  token, and it is made inside the job's own transaction (an import commits its tasks and its
  `done` together). A run whose lease was taken over commits nothing; a run killed before its
  commit leaves nothing. So a job finishes exactly once and never reports work it did not commit.
- **Idempotent delivery.** A message delivered twice (the sweep and a late redelivery, or
  `acks_late` with `reject_on_worker_lost`) finds the job running under a live lease, or done,
  and does nothing. A job whose worker died `FAIRLABEL_JOB_MAX_ATTEMPTS` times, or that Celery
  killed at its hard time limit, is failed with a reason instead of killing workers forever.

Why a lease on the row rather than trusting the broker alone: `acks_late` with
`reject_on_worker_lost` redelivers when a pool child dies, but not when the whole worker (or its
machine) dies; Redis then waits for its visibility timeout, which must outlast the longest job
(hours). And the broker cannot tell a slow job from a dead one; a heartbeat on the row can, and
the row is where the job's outcome is committed anyway.

It also breaks the loop `reject_on_worker_lost` can cause: a message given back because its
job killed the pool child finds the job under a live lease and is acknowledged, not run again.

Adding a job kind (settlement, reports) needs no change here; it is swept like the others:

    class SettlementJob(Job):                       # payments/models.py
        job_task = "payments.tasks.settle"
        def job_failure_fields(self, message): return {"error": message}

    @shared_task(name="payments.settle", base=JobTask, soft_time_limit=..., time_limit=...)
    def settle(*, job_id): services.settlement_job_run(job_id=job_id)     # payments/tasks.py

    def settlement_job_run(*, job_id):                                      # payments/services.py
        claim = job_claim(model=SettlementJob, job_id=job_id)
        if claim is None:
            return SettlementJob.objects.filter(pk=job_id).first()
        with claim.heartbeat(), transaction.atomic():
            ...                                    # the work, in the job's transaction
            return claim.finish(status=JobStatus.DONE, ...)   # LeaseLost rolls it all back

and the service that creates the row calls `job_enqueue(job=job)` inside its transaction.
"""
