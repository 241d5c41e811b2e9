"""The job mechanism (labeling/jobs) on the database: claims, leases, fencing, the sweep.
Real workers, SIGKILL and a dead broker are in test_jobs_processes.py."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import orjson
import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from labeling.exporting import services as export_services
from labeling.importing import services as import_services
from labeling.jobs import services as jobs
from labeling.jobs.services import LeaseLost, job_claim, job_publish, jobs_sweep
from labeling.models import ExportJob, ImportJob, JobStatus
from tests.factories import project_factory

pytestmark = pytest.mark.django_db


def _import_job(owner, rows: int = 3, **fields) -> ImportJob:
    project = project_factory(owner)
    content = b"\n".join(orjson.dumps({"text": f"t{n}"}) for n in range(rows))
    return ImportJob.objects.create(
        project=project,
        created_by=owner,
        format="jsonl",
        file=ContentFile(content, name="t.jsonl"),
        size_bytes=len(content),
        **fields,
    )


def _lapse(job) -> None:
    type(job).objects.filter(pk=job.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_every_job_kind_is_swept():
    assert {ImportJob, ExportJob} <= set(jobs.job_models())


def test_a_claim_is_held_until_its_lease_lapses_then_fenced(owner):
    job = _import_job(owner)
    first = job_claim(model=ImportJob, job_id=job.pk)
    assert first is not None and first.job.attempts == 1
    assert job_claim(model=ImportJob, job_id=job.pk) is None  # a second delivery: nothing
    assert first.renew()
    _lapse(job)
    second = job_claim(model=ImportJob, job_id=job.pk)  # the first worker is presumed dead
    assert second is not None and second.token != first.token and second.job.attempts == 2
    assert not first.renew() and first.lost.is_set()
    with pytest.raises(LeaseLost):
        first.finish(status=JobStatus.DONE)
    second.finish(status=JobStatus.DONE, imported=3)
    job.refresh_from_db()
    assert (job.status, job.imported, job.lease_token, job.lease_expires_at) == (
        "done",
        3,
        None,
        None,
    )
    assert job_claim(model=ImportJob, job_id=job.pk) is None
    assert job_claim(model=ImportJob, job_id=10**9) is None


def test_an_import_whose_lease_was_taken_over_commits_nothing(owner, monkeypatch):
    """A run presumed dead (say, paused for minutes) must not add its rows beside the run that
    replaced it: the tasks and the job's outcome commit together, fenced by the token."""
    job = _import_job(owner, rows=5)
    real = import_services.tasks_import

    def paused_then_resumed(**kwargs):
        outcome = real(**kwargs)
        assert outcome.imported == 5
        # Meanwhile the sweep gave the job to another worker: the token on the row changed.
        ImportJob.objects.filter(pk=job.pk).update(lease_token=uuid.uuid4())
        return outcome

    monkeypatch.setattr(import_services, "tasks_import", paused_then_resumed)
    import_services.import_job_run(job_id=job.pk)
    assert job.project.tasks.count() == 0
    job.refresh_from_db()
    assert (job.status, job.imported) == ("running", 0)
    monkeypatch.setattr(import_services, "tasks_import", real)
    _lapse(job)
    done = import_services.import_job_run(job_id=job.pk)
    assert (done.status, done.imported, done.attempts) == ("done", 5, 2)
    assert job.project.tasks.count() == 5


def test_an_export_whose_lease_was_taken_over_keeps_no_files(owner, monkeypatch):
    project = project_factory(owner, tasks=2)
    job = ExportJob.objects.create(project=project, created_by=owner, format="jsonl")
    real = export_services.export_to_path
    saved: list[str] = []

    def paused(**kwargs):
        count = real(**kwargs)
        ExportJob.objects.filter(pk=job.pk).update(lease_token=None, status="pending")
        return count

    monkeypatch.setattr(export_services, "export_to_path", paused)
    real_save = ExportJob.file.field.attr_class.save

    def spy(self, name, content, save=True):
        real_save(self, name, content, save=save)
        saved.append(self.name)

    monkeypatch.setattr(ExportJob.file.field.attr_class, "save", spy)
    assert export_services.export_job_run(job_id=job.pk).status == "pending"
    assert len(saved) == 2
    storage = ExportJob.file.field.storage
    assert not any(storage.exists(name) for name in saved)


def test_the_sweep_queues_a_job_whose_worker_died_and_it_runs_once(owner):
    job = _import_job(owner, rows=4)
    dead = job_claim(model=ImportJob, job_id=job.pk)
    ImportJob.objects.filter(pk=job.pk).update(total=2)  # progress the dead run saved
    assert jobs_sweep().requeued == 0  # the lease is live
    _lapse(job)
    result = jobs_sweep()  # eager Celery in tests: publishing runs the job here
    assert (result.requeued, result.published) == (1, 1)
    job.refresh_from_db()
    assert (job.status, job.total, job.imported, job.attempts) == ("done", 4, 4, 2)
    assert job.project.tasks.count() == 4
    with pytest.raises(LeaseLost):
        dead.finish(status=JobStatus.DONE)
    assert jobs_sweep().published == 0


def test_a_job_published_twice_runs_once(owner, django_capture_on_commit_callbacks):
    job = _import_job(owner, rows=3)
    assert job_publish(model=ImportJob, job_id=job.pk)
    assert job_publish(model=ImportJob, job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 1)
    assert job.project.tasks.count() == 3


def test_the_sweep_publishes_jobs_the_broker_never_took(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the broker "was down"
        job = import_services.import_job_create(
            project=project_factory(owner),
            user=owner,
            file=ContentFile(b'{"text": "a"}\n', name="t.jsonl"),
        )
    job.refresh_from_db()
    assert (job.status, job.enqueued_at) == ("pending", None)
    assert jobs_sweep().published == 1
    job.refresh_from_db()
    assert job.status == "done"


def test_a_job_whose_worker_keeps_dying_is_failed_with_a_reason(owner, settings):
    settings.FAIRLABEL_JOB_MAX_ATTEMPTS = 2
    job = _import_job(owner)
    for _ in range(2):
        assert job_claim(model=ImportJob, job_id=job.pk) is not None
        _lapse(job)
    result = jobs_sweep()
    assert (result.failed, result.requeued) == (1, 0)
    job.refresh_from_db()
    assert job.status == "failed" and job.error_count == 1
    assert "stopped 2 times" in job.errors[0]["message"]
    assert job.project.tasks.count() == 0
    export = ExportJob.objects.create(project=job.project, created_by=owner, format="jsonl")
    ExportJob.objects.filter(pk=export.pk).update(status="running", attempts=2)
    assert jobs_sweep().failed == 1
    export.refresh_from_db()
    assert export.status == "failed" and "stopped 2 times" in export.error


def test_a_job_left_running_by_an_older_release_is_swept(owner):
    """Rows running before leases existed carry none: they count as lapsed."""
    job = _import_job(owner, status="running", started_at=timezone.now() - timedelta(hours=1))
    assert jobs_sweep().requeued == 1
    job.refresh_from_db()
    assert job.status == "done"


def test_the_api_shows_whether_the_queue_took_the_job(
    owner, client_for, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    project = project_factory(owner)
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            f"/api/projects/{project.pk}/imports/",
            {"file": SimpleUploadedFile("t.jsonl", b'{"text": "a"}')},
            format="multipart",
        )
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["enqueued_at"], body["attempts"]) == ("pending", None, 0)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/api/projects/{project.pk}/exports/", {"format": "jsonl"})
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["enqueued_at"]) == ("pending", None)


def test_the_pages_say_when_a_job_waits_for_the_queue(owner, client):
    from django.urls import reverse

    job = _import_job(owner)
    export = ExportJob.objects.create(project=job.project, created_by=owner, format="jsonl")
    client.force_login(owner)
    import_page = reverse("labeling:import_status", args=[job.pk])
    export_list = reverse("labeling:export_jobs", args=[job.project_id])
    assert b'data-testid="import-waiting"' in client.get(import_page).content
    assert b'data-testid="export-waiting"' in client.get(export_list).content
    now = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(enqueued_at=now)
    ExportJob.objects.filter(pk=export.pk).update(enqueued_at=now)
    assert b"import-waiting" not in client.get(import_page).content
    assert b"export-waiting" not in client.get(export_list).content
    client.cookies["django_language"] = "fr"
    ImportJob.objects.filter(pk=job.pk).update(enqueued_at=None)
    page = client.get(import_page, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "la file des tâches est injoignable" in page


def test_a_job_killed_at_its_time_limit_is_failed_not_run_again(owner):
    from labeling.importing.tasks import import_tasks

    limit = timedelta(seconds=import_tasks.time_limit)
    job = _import_job(owner, status="running", attempts=1)
    ImportJob.objects.filter(pk=job.pk).update(
        started_at=timezone.now() - limit - timedelta(seconds=61),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert jobs_sweep().failed == 1
    job.refresh_from_db()
    assert job.status == "failed" and job.lease_token is None
    assert job.errors[0]["message"].startswith("stopped at its time limit of 185 minutes")
    assert job.project.tasks.count() == 0
    # The same when a redelivered message finds it first.
    again = _import_job(owner, status="running", attempts=1)
    ImportJob.objects.filter(pk=again.pk).update(
        started_at=timezone.now() - limit - timedelta(seconds=61),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert job_claim(model=ImportJob, job_id=again.pk) is None
    again.refresh_from_db()
    assert again.status == "failed" and "time limit" in again.errors[0]["message"]


def test_a_live_lease_of_a_dead_process_on_this_machine_is_taken_over_at_once(owner):
    """A pool child killed (SIGKILL, OOM) leaves a live lease; Celery gives its message back and
    the next child sees the holder is gone. Elsewhere, or alive, the lease decides."""
    import socket
    import subprocess

    job = _import_job(owner)
    first = job_claim(model=ImportJob, job_id=job.pk)
    assert first.job.lease_owner == f"{socket.gethostname()}:{os.getpid()}"
    dead = subprocess.Popen(["true"])
    dead.wait()
    here = socket.gethostname()
    for owner_of_lease in (f"another-host:{dead.pid}", f"{here}:{os.getppid()}", f"{here}:x"):
        ImportJob.objects.filter(pk=job.pk).update(lease_owner=owner_of_lease)
        assert job_claim(model=ImportJob, job_id=job.pk) is None, owner_of_lease
    ImportJob.objects.filter(pk=job.pk).update(lease_owner=f"{here}:{dead.pid}")
    second = job_claim(model=ImportJob, job_id=job.pk)
    assert second is not None and second.job.attempts == 2
    with pytest.raises(LeaseLost):
        first.finish(status=JobStatus.DONE)
    second.finish(status=JobStatus.DONE)
    job.refresh_from_db()
    assert (job.status, job.lease_owner) == ("done", "")
