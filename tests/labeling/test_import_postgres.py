"""The PostgreSQL path: rows go in with COPY, and progress is saved from a second connection
while the loading transaction is still open."""

from __future__ import annotations

import io

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from labeling.importing import loader
from labeling.importing.loader import Progress, tasks_import
from labeling.importing.services import _ProgressWriter, import_job_create, import_job_run
from labeling.models import ImportJob, JobStatus
from tests.factories import project_factory

pytestmark = pytest.mark.postgres


@pytest.mark.django_db
def test_copy_keeps_every_character(owner):
    assert connection.vendor == "postgresql"
    project = project_factory(owner)
    texts = [
        "back\\slash",
        "tab\there",
        "new\nline",
        "carriage\rreturn",
        'quote " and \\"',
        "é ü 漢字 🙂",
        "\\N looks like null",
        "end\\",
    ]
    rows = [
        {"id": f"id\t{n}\\", "text": text, "extra": {"nested": [text]}}
        for n, text in enumerate(texts)
    ]
    rows.append(
        {
            "data": {"text": "with predictions"},
            "categories": ["violence"],
            "predictions": [{"result": {"label": "pos"}, "score": 1}],
        }
    )
    content = b"\n".join(orjson.dumps(r) for r in rows)
    outcome = tasks_import(project=project, stream=io.BytesIO(content), fmt="jsonl")
    assert outcome.ok, outcome.errors
    tasks = list(project.tasks.order_by("id"))
    assert [t.data["text"] for t in tasks[:-1]] == texts
    assert [t.data["extra"] for t in tasks[:-1]] == [{"nested": [t]} for t in texts]
    assert [t.external_id for t in tasks[:-1]] == [f"id\t{n}\\" for n in range(len(texts))]
    last = tasks[-1]
    assert (last.categories, last.category_mask) == (["violence"], 1)
    assert last.predictions == [{"result": {"label": "pos"}, "score": 1.0}]
    assert {t.annotation_count for t in tasks} == {0}


@pytest.mark.django_db
def test_copy_batches_and_existing_ids(owner, monkeypatch):
    monkeypatch.setattr(loader, "BATCH_ROWS", 7)
    project = project_factory(owner)
    first = b"\n".join(orjson.dumps({"id": n, "text": f"t{n}"}) for n in range(50))
    assert tasks_import(project=project, stream=io.BytesIO(first), fmt="jsonl").imported == 50
    # With existing ids the COPY is closed between batches to ask which ids exist.
    second = b"\n".join(orjson.dumps({"id": n, "text": f"t{n}"}) for n in range(45, 80))
    outcome = tasks_import(project=project, stream=io.BytesIO(second), fmt="jsonl")
    assert outcome.imported == 0
    assert [e["line"] for e in outcome.errors] == [1, 2, 3, 4, 5]
    third = b"\n".join(orjson.dumps({"id": n, "text": f"t{n}"}) for n in range(50, 80))
    assert tasks_import(project=project, stream=io.BytesIO(third), fmt="jsonl").imported == 30
    assert project.tasks.count() == 80


@pytest.mark.django_db
def test_a_failed_copy_leaves_nothing(owner):
    project = project_factory(owner)
    rows = [{"text": f"t{n}"} for n in range(30_000)] + [{"nope": 1}]
    content = b"\n".join(orjson.dumps(r) for r in rows)
    outcome = tasks_import(project=project, stream=io.BytesIO(content), fmt="jsonl")
    assert (outcome.imported, outcome.error_count, outcome.total) == (0, 1, 30_001)
    assert not project.tasks.exists()


@pytest.mark.django_db(transaction=True)
def test_progress_is_saved_while_the_import_runs(owner, monkeypatch):
    """Outside any transaction (as in the Celery worker), a second connection writes the job's
    progress, visible to others before the import commits."""
    project = project_factory(owner)
    seen: list[tuple[int, int]] = []
    real_write = _ProgressWriter.__call__

    def spy(self, progress: Progress) -> None:
        real_write(self, progress)
        # Read from yet another connection: the row is committed, the tasks are not.
        from django.db import connections

        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute(
                    "SELECT status, total FROM labeling_importjob WHERE id = %s", [self.job_id]
                )
                status, total = cursor.fetchone()
                cursor.execute(
                    "SELECT count(*) FROM labeling_task WHERE project_id = %s", [project.pk]
                )
                visible_tasks = cursor.fetchone()[0]
        finally:
            other.close()
        assert status == JobStatus.RUNNING
        seen.append((total, visible_tasks))

    monkeypatch.setattr(_ProgressWriter, "__call__", spy)
    monkeypatch.setattr(loader, "BATCH_ROWS", 1000)
    original = loader.tasks_import

    def often(**kwargs):
        return original(**kwargs, progress_rows=1)

    monkeypatch.setattr("labeling.importing.services.tasks_import", often)
    content = b"\n".join(orjson.dumps({"text": f"t{n}"}) for n in range(20_000))
    job = import_job_create(
        project=project, user=owner, file=SimpleUploadedFile("big.jsonl", content)
    )
    job.refresh_from_db()  # Celery is eager and there is no outer transaction: it ran
    assert job.status == "done"
    assert job.imported == 20_000
    assert seen and all(total > 0 and visible == 0 for total, visible in seen)
    assert ImportJob.objects.get(pk=job.pk).bytes_read == len(content)
    assert import_job_run(job_id=job.pk).status == "done"


@pytest.mark.django_db
def test_copy_keeps_external_ids_and_annotations_as_suggestions(owner):
    project = project_factory(owner)
    rows = [
        {
            "id": 1,
            "external_id": "ext\t1\\",
            "data": {"text": "a"},
            "annotations": [
                {"id": 8, "annotator": "b\\n", "result": {"label": "neg"}},
                {"id": 3, "annotator": "a\tz", "result": {"label": "pos"}},
            ],
        },
        {"id": 2, "external_id": None, "data": {"text": "b"}, "annotations": []},
        {"id": 3, "data": {"text": "c"}, "meta": {"external_id": "m3"}},
    ]
    content = b"\n".join(orjson.dumps(r) for r in rows)
    outcome = tasks_import(project=project, stream=io.BytesIO(content), fmt="jsonl")
    assert outcome.ok, outcome.errors
    tasks = list(project.tasks.order_by("id"))
    assert [t.external_id for t in tasks] == ["ext\t1\\", None, "m3"]
    assert tasks[0].predictions == [
        {"result": {"label": "pos"}, "model": "annotation:a\tz"},
        {"result": {"label": "neg"}, "model": "annotation:b\\n"},
    ]
    assert [t.predictions for t in tasks[1:]] == [None, None]
    assert {t.annotation_count for t in tasks} == {0}
