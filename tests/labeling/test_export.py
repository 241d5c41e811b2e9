"""Exports: every format's content, the options, the provenance record, jobs, API and command."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from labeling.dispatch import annotation_submit, assignment_next, assignments_expire
from labeling.exporting import services
from labeling.exporting.formats import bio_tags, majority_tags, tokens_of
from labeling.models import Annotation, ExportJob, JobStatus, TaskType
from tests.factories import project_factory, user_factory
from tests.labeling.test_export_support import labeled_project

pytestmark = pytest.mark.django_db


def export(project, fmt, tmp_path, **options):
    path = tmp_path / f"out.{fmt}"
    count = services.export_to_path(project=project, fmt=fmt, path=path, **options)
    return count, path


def jsonl_rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- JSON and JSONL ------------------------------------------------------------------------


def test_jsonl_rows_have_the_contract_shape_with_pseudonyms_only(tmp_path):
    project = labeled_project(TaskType.TEXT_CLASSIFICATION, leave_unlabeled=1)
    count, path = export(project, "jsonl", tmp_path)
    rows = jsonl_rows(path)
    assert count == 3 and len(rows) == 3
    tasks = list(project.tasks.order_by("id"))
    assert [r["id"] for r in rows] == [t.pk for t in tasks]
    first = rows[0]
    assert set(first) == {"id", "external_id", "data", "annotations"}
    assert first["external_id"] == "ext-0" and first["data"] == tasks[0].data
    assert len(first["annotations"]) == 3 and rows[2]["annotations"] == []
    annotation = first["annotations"][0]
    assert set(annotation) == {"id", "annotator", "result", "seconds", "created_at", "is_extra"}
    db = Annotation.objects.get(pk=annotation["id"])
    assert annotation["result"] == db.result and annotation["seconds"] == str(db.seconds)
    assert annotation["annotator"] == db.annotator.profile.pseudonym
    assert db.annotator.username not in path.read_text()
    assert annotation["created_at"].startswith(db.created_at.isoformat()[:19])


def test_json_is_the_same_rows_as_a_list(tmp_path):
    project = labeled_project(TaskType.MULTI_LABEL)
    _, jsonl = export(project, "jsonl", tmp_path)
    _, as_json = export(project, "json", tmp_path)
    assert json.loads(as_json.read_text()) == jsonl_rows(jsonl)


def test_empty_project_exports_valid_empty_files(tmp_path):
    project = project_factory(task_type=TaskType.IMAGE_BOXES)
    for fmt in services.export_formats_for(project.task_type):
        count, path = export(project, fmt, tmp_path)
        assert count == 0
        if fmt in ("json", "label_studio"):
            assert json.loads(path.read_text()) == []
        if fmt == "coco":
            assert json.loads(path.read_text())["images"] == []


def test_extra_annotations_are_included_and_flagged(tmp_path):
    project = project_factory(task_type=TaskType.TEXT_CLASSIFICATION, tasks=1, publish=True)
    late, quick = user_factory("annotator"), user_factory("annotator")
    start = timezone.now()
    first = assignment_next(annotator=late, project=project, now=start)
    assignments_expire(now=start + timedelta(hours=1))
    second = assignment_next(annotator=quick, project=project)
    annotation_submit(annotator=quick, assignment_id=second.pk, result={"label": "pos"})
    outcome = annotation_submit(annotator=late, assignment_id=first.pk, result={"label": "neg"})
    assert outcome.is_extra
    _, path = export(project, "jsonl", tmp_path)
    [row] = jsonl_rows(path)
    assert [(a["result"]["label"], a["is_extra"]) for a in row["annotations"]] == [
        ("pos", False),
        ("neg", True),
    ]


def test_only_finished_and_majority(tmp_path):
    project = labeled_project(TaskType.TEXT_CLASSIFICATION, tasks=3, leave_unlabeled=1)
    count, path = export(project, "jsonl", tmp_path, only_finished=True, majority=True)
    rows = jsonl_rows(path)
    assert count == 2 and [r["external_id"] for r in rows] == ["ext-0", "ext-1"]
    assert rows[0]["majority"] == {"label": "pos", "agreement": 0.6667}


def test_majority_of_multi_label(tmp_path):
    project = labeled_project(TaskType.MULTI_LABEL, tasks=1)
    _, path = export(project, "json", tmp_path, majority=True)
    [row] = json.loads(path.read_text())
    assert row["majority"] == {"labels": ["sports", "tech"], "agreement": 0.6667}


def test_majority_is_refused_where_it_is_not_defined(tmp_path, owner):
    """It used to write `majority: null` on every row of spans and boxes."""
    from fairlabel.errors import DomainError

    boxes = labeled_project(TaskType.IMAGE_BOXES, tasks=1, per_task=1, annotators=1)
    with pytest.raises(DomainError, match="no majority label"):
        export(boxes, "jsonl", tmp_path, majority=True)
    spans = labeled_project(TaskType.TEXT_SPANS, tasks=1, per_task=1, annotators=1)
    with pytest.raises(DomainError, match="CoNLL 2003"):
        services.export_job_create(project=spans, user=owner, fmt="jsonl", majority=True)
    assert not ExportJob.objects.exists()


def test_task_categories_travel_with_the_row(tmp_path):
    from labeling.services import tasks_create

    project = project_factory(content_categories=["violence"])
    tasks_create(
        project=project,
        rows=[{"data": {"text": "calm"}, "categories": []}, {"data": {"text": "unmarked"}}],
    )
    _, path = export(project, "jsonl", tmp_path)
    rows = jsonl_rows(path)
    assert rows[0]["categories"] == [] and "categories" not in rows[1]


def test_export_streams_in_chunks_with_a_fixed_number_of_queries(
    tmp_path, django_assert_max_num_queries
):
    project = labeled_project(TaskType.TEXT_CLASSIFICATION, tasks=7, per_task=1, annotators=1)
    calls = []
    # count + per chunk (tasks + annotations) + pseudonyms once + the final empty page + record
    # + the policies in force + the working-time section (policies, breaks, sensitive spans,
    # the days against the caps) + the pay section of the provenance (settlements, pseudonyms,
    # last settlement, unsettled work, the ledger's chain heads, its last verification)
    with django_assert_max_num_queries(24):
        count = services.export_to_path(
            project=project,
            fmt="jsonl",
            path=tmp_path / "o.jsonl",
            chunk_size=2,
            progress=lambda d, t: calls.append((d, t)),
        )
    assert count == 7
    assert calls == [(0, 7), (2, 7), (4, 7), (6, 7), (7, 7)]
    assert len(jsonl_rows(tmp_path / "o.jsonl")) == 7


# --- CSV -----------------------------------------------------------------------------------


def test_csv_columns_label_counts_and_formula_escaping(tmp_path):
    project = labeled_project(TaskType.TEXT_CLASSIFICATION, tasks=3)
    _, path = export(project, "csv", tmp_path, majority=True)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert list(rows[0]) == [
        "id",
        "external_id",
        "categories",
        "text",
        "source",
        "json_fields",
        "annotations",
        "label:pos",
        "label:neg",
        "label:neutral",
        "majority",
        "agreement",
    ]
    assert rows[0]["text"] == "Ada Lovelace met Charles Babbage in London."
    assert rows[2]["text"].startswith("'=HYPERLINK")
    assert (rows[0]["label:pos"], rows[0]["label:neg"], rows[0]["label:neutral"]) == ("2", "1", "0")
    assert (rows[0]["majority"], rows[0]["agreement"]) == ("pos", "0.6667")
    annotations = json.loads(rows[0]["annotations"])
    assert [a["result"]["label"] for a in annotations] == ["pos", "pos", "neg"]


def test_csv_escapes_every_dangerous_start_and_prefixes_colliding_fields(tmp_path):
    from labeling.services import tasks_create

    project = project_factory(task_type=TaskType.TEXT_CLASSIFICATION)
    texts = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "plain", "-1.5e3", "-1-1"]
    tasks_create(
        project=project,
        rows=[{"data": {"text": t, "id": "inner"}, "id": f"=e{n}"} for n, t in enumerate(texts)],
    )
    _, path = export(project, "csv", tmp_path)
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode(), newline="")))
    header, body = rows[0], rows[1:]
    assert header[:5] == ["id", "external_id", "categories", "text", "data.id"]
    # A plain number is no formula: -1 stays a number for spreadsheets and pandas.
    assert [r[3] for r in body] == [
        "'=1+1",
        "'+1",
        "-1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "plain",
        "-1.5e3",
        "'-1-1",
    ]
    assert all(r[1].startswith("'=e") for r in body)


def test_csv_of_image_boxes_counts_boxes_per_label(tmp_path):
    project = labeled_project(TaskType.IMAGE_BOXES, tasks=1)
    _, path = export(project, "csv", tmp_path)
    [row] = list(csv.DictReader(io.StringIO(path.read_text())))
    assert row["image"] == "https://example.org/img/0.png" and row["width"] == "640"
    assert (row["label:cat"], row["label:dog"]) == ("3", "2")


# --- Label Studio --------------------------------------------------------------------------


def test_label_studio_choices(tmp_path):
    project = labeled_project(TaskType.TEXT_CLASSIFICATION, tasks=1)
    _, path = export(project, "label_studio", tmp_path)
    [task] = json.loads(path.read_text())
    assert set(task) >= {"id", "data", "annotations"}
    item = task["annotations"][0]["result"][0]
    assert {k: item[k] for k in ("from_name", "to_name", "type", "value")} == {
        "from_name": "label",
        "to_name": "text",
        "type": "choices",
        "value": {"choices": ["pos"]},
    }
    assert task["annotations"][2]["result"][0]["value"] == {"choices": ["neg"]}


def test_label_studio_multi_label_and_spans(tmp_path):
    multi = labeled_project(TaskType.MULTI_LABEL, tasks=1, per_task=1, annotators=1)
    _, path = export(multi, "label_studio", tmp_path)
    value = json.loads(path.read_text())[0]["annotations"][0]["result"][0]["value"]
    assert value == {"choices": ["sports", "tech"]}

    spans = labeled_project(TaskType.TEXT_SPANS, tasks=1, per_task=1, annotators=1)
    _, path = export(spans, "label_studio", tmp_path)
    items = json.loads(path.read_text())[0]["annotations"][0]["result"]
    assert [(i["type"], i["value"]) for i in items] == [
        ("labels", {"start": 0, "end": 12, "text": "Ada Lovelace", "labels": ["PER"]}),
        ("labels", {"start": 36, "end": 42, "text": "London", "labels": ["LOC"]}),
    ]


def test_label_studio_boxes_are_in_percent_of_the_image(tmp_path):
    project = labeled_project(TaskType.IMAGE_BOXES, tasks=1, per_task=1, annotators=1)
    _, path = export(project, "label_studio", tmp_path)
    item = json.loads(path.read_text())[0]["annotations"][0]["result"][0]
    assert item["type"] == "rectanglelabels" and item["to_name"] == "image"
    assert item["value"] == {
        "x": 10.0,
        "y": 10.0,
        "width": 50.0,
        "height": 50.0,
        "rotation": 0,
        "rectanglelabels": ["cat"],
    }
    assert (item["original_width"], item["original_height"]) == (640, 480)


# --- CoNLL 2003 and COCO -------------------------------------------------------------------


def test_conll2003_first_annotation_bio_tags(tmp_path):
    project = labeled_project(TaskType.TEXT_SPANS, tasks=3, leave_unlabeled=1)
    count, path = export(project, "conll2003", tmp_path)
    text = path.read_text()
    documents = text.split("-DOCSTART- -X- -X- O\n\n")
    assert documents[0] == "" and len(documents) == 3  # the unlabeled task is left out
    lines = documents[1].splitlines()
    assert lines[:4] == [
        "Ada -X- _ B-PER",
        "Lovelace -X- _ I-PER",
        "met -X- _ O",
        "Charles -X- _ O",
    ]
    assert "London -X- _ B-LOC" in lines and lines[-2:] == [". -X- _ O", ""]
    assert count == 3


def test_conll2003_majority_drops_what_only_a_minority_tagged():
    tokens = tokens_of("Ada met Bob in Paris")
    one = bio_tags(
        tokens, [{"start": 0, "end": 3, "label": "PER"}, {"start": 15, "end": 20, "label": "LOC"}]
    )
    two = bio_tags(tokens, [{"start": 0, "end": 3, "label": "PER"}])
    three = bio_tags(
        tokens, [{"start": 0, "end": 3, "label": "PER"}, {"start": 8, "end": 11, "label": "PER"}]
    )
    assert majority_tags([one, two, three]) == ["B-PER", "O", "O", "O", "O"]


def test_conll2003_export_with_majority(tmp_path):
    project = labeled_project(TaskType.TEXT_SPANS, tasks=1)
    _, path = export(project, "conll2003", tmp_path, majority=True)
    assert "London -X- _ B-LOC" in path.read_text()  # two of three tagged it


def test_coco(tmp_path):
    project = labeled_project(TaskType.IMAGE_BOXES, tasks=2)
    _, path = export(project, "coco", tmp_path)
    coco = json.loads(path.read_text())
    assert coco["categories"] == [
        {"id": 1, "name": "cat", "supercategory": "none"},
        {"id": 2, "name": "dog", "supercategory": "none"},
    ]
    assert [(i["file_name"], i["width"], i["height"]) for i in coco["images"]] == [
        ("0.png", 640, 480),
        ("1.png", 640, 480),
    ]
    assert len(coco["annotations"]) == 10  # 2 tasks x (2 + 2 + 1 boxes)
    first = coco["annotations"][0]
    assert first["bbox"] == [64, 48, 320, 240] and first["category_id"] == 1
    assert first["area"] == 320 * 240 and first["image_id"] == coco["images"][0]["id"]
    assert len({a["id"] for a in coco["annotations"]}) == 10


def test_format_must_fit_the_task_type(tmp_path):
    from fairlabel.errors import DomainError

    project = project_factory(task_type=TaskType.TEXT_CLASSIFICATION)
    for fmt in ("conll2003", "coco", "xml"):
        with pytest.raises(DomainError) as caught:
            services.export_to_path(project=project, fmt=fmt, path=tmp_path / "x")
        assert caught.value.code == "invalid_format"
    assert services.export_formats_for("text_spans")[-1] == "conll2003"
    assert services.export_formats_for("image_boxes")[-1] == "coco"


# --- Provenance ----------------------------------------------------------------------------


def test_provenance_record_beside_the_export(tmp_path, settings):
    from datetime import timedelta

    from django.utils import timezone

    from labeling.models import Assignment
    from payments.services import settle_now

    settings.FAIRLABEL_FLOOR_HOURLY = Decimal("12.00")
    project = labeled_project(TaskType.TEXT_CLASSIFICATION, tasks=2, per_task=2, annotators=2)
    Annotation.objects.filter(project=project).update(seconds=Decimal("60.000"))
    Assignment.objects.filter(project=project).update(active_seconds=Decimal("60.000"))
    export(project, "jsonl", tmp_path)
    record = json.loads((tmp_path / "out.provenance.json").read_text())
    # Nothing settled yet: the measured work waits for the next settlement.
    assert (record["paid_hours"], record["unsettled_hours"]) == ("0.000", "0.067")
    assert record["pay_source"] == "ledger" and len(record["ledger_head"]) == 64
    settle_now(cutoff=timezone.now() + timedelta(minutes=1))
    export(project, "jsonl", tmp_path)
    record = json.loads((tmp_path / "out.provenance.json").read_text())
    assert record["format"] == "jsonl" and record["tasks"] == 2
    assert (record["annotations"], record["annotators"]) == (4, 2)
    assert record["paid_hours"] == record["measured_hours"] == "0.067"
    # Piece pay 0.10 x 4 in 240 s is 6.00 an hour: settlement topped it up to the floor.
    assert (record["effective_hourly"], record["floor_hourly"]) == ("12.00", "12.00")
    assert record["paid"] == "0.80" and record["meets_floor"] is True
    assert {a["topup"] for a in record["per_annotator"]} == {"0.20"}
    assert record["currency"] == "USD"
    # Breaks and exposure come from the working-time records (none planted here: zeros).
    assert record["breaks"]["due_total"] == 0 and record["exposure"]["sensitive_hours"] == "0.000"
    assert "tracked once" not in json.dumps(record["notes"])
    assert {a["annotations"] for a in record["per_annotator"]} == {2}
    assert all(a["annotator"] for a in record["per_annotator"])
    assert record["generated_at"] and record["project"]["id"] == project.pk


def test_provenance_without_work_has_no_rate(tmp_path):
    project = project_factory(tasks=2)
    export(project, "json", tmp_path)
    record = json.loads((tmp_path / "out.provenance.json").read_text())
    assert record["annotations"] == 0 and record["effective_hourly"] is None
    assert record["meets_floor"] is None and record["paid_hours"] == "0.000"


# --- Jobs ------------------------------------------------------------------------------------


def test_job_is_enqueued_on_commit_and_idempotent(owner, django_capture_on_commit_callbacks):
    project = labeled_project(TaskType.TEXT_CLASSIFICATION, owner=owner, tasks=2)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = services.export_job_create(project=project, user=owner, fmt="jsonl")
    assert len(callbacks) == 1 and job.status == JobStatus.PENDING
    callbacks[0]()
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and (job.total, job.exported) == (2, 2)
    name, finished = job.file.name, job.finished_at
    assert job.file.read().count(b"\n") == 2 and job.provenance.name.endswith(".json")
    services.export_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.file.name, job.finished_at) == (name, finished)
    assert services.export_job_run(job_id=999_999) is None


def test_a_failing_job_is_marked_failed(owner, monkeypatch):
    project = project_factory(owner, tasks=1)
    job = ExportJob.objects.create(project=project, created_by=owner, format="jsonl")

    def boom(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(services, "export_to_path", boom)
    services.export_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "disk full" in job.error


# --- API -------------------------------------------------------------------------------------


def test_api_export_flow_with_downloads(owner, client_for, django_capture_on_commit_callbacks):
    project = labeled_project(TaskType.TEXT_CLASSIFICATION, owner=owner, tasks=2)
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/projects/{project.pk}/exports/",
            {"format": "csv", "majority": True},
            format="json",
        )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert set(body) >= {"id", "status", "download_url", "provenance_url"}
    detail = client.get(f"/api/exports/{body['id']}/").json()
    assert detail["status"] == "done" and detail["exported"] == 2
    assert detail["download_url"].endswith(f"/api/exports/{body['id']}/download/")

    download = client.get(detail["download_url"])
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    assert f'export-{body["id"]}.csv"' in download["Content-Disposition"]
    assert download["Content-Disposition"].startswith("attachment")
    assert b"label:pos" in b"".join(download.streaming_content)

    record = client.get(detail["provenance_url"])
    assert json.loads(b"".join(record.streaming_content))["format"] == "csv"
    assert ".provenance.json" in record["Content-Disposition"]

    archive = client.get(detail["zip_url"])
    assert archive["Content-Type"] == "application/zip"
    assert ".zip" in archive["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))) as zipped:
        names = zipped.namelist()
        assert len(names) == 3 and names[0].endswith(".csv")
        assert zipped.read(names[0]).startswith(b"id,external_id,categories,text")
        assert orjson.loads(zipped.read(names[1]))["tasks"] == 2
        # A short README names both files and what they hold.
        readme = zipped.read("README.txt").decode()
        assert names[2] == "README.txt" and names[0] in readme and names[1] in readme
        assert "labor-provenance record" in readme and "pseudonym" in readme


def test_api_refuses_a_format_that_does_not_fit(owner, client_for):
    project = project_factory(owner, task_type=TaskType.TEXT_CLASSIFICATION)
    for fmt in ("conll2003", "coco"):
        response = client_for(owner).post(
            f"/api/projects/{project.pk}/exports/", {"format": fmt}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_format"
    response = client_for(owner).post(
        f"/api/projects/{project.pk}/exports/", {"format": "yaml"}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert not ExportJob.objects.exists()


def test_api_pending_job_has_no_urls(owner, client_for, django_capture_on_commit_callbacks):
    project = project_factory(owner, tasks=1)
    with django_capture_on_commit_callbacks(execute=False):
        response = client_for(owner).post(
            f"/api/projects/{project.pk}/exports/", {"format": "json"}, format="json"
        )
    body = response.json()
    assert body["status"] == "pending" and body["download_url"] is None
    assert client_for(owner).get(f"/api/exports/{body['id']}/download/").status_code == 404


@pytest.mark.parametrize("role", ["annotator", "auditor", "other_owner", "admin", "anonymous"])
def test_api_access_by_role(role, owner, client_for, api_client):
    project = project_factory(owner, tasks=1)
    job = services.export_job_create(project=project, user=owner, fmt="json")
    services.export_job_run(job_id=job.pk)
    if role == "anonymous":
        client = api_client
    else:
        client = client_for(user_factory("owner" if role == "other_owner" else role))
    urls = [
        f"/api/exports/{job.pk}/",
        f"/api/exports/{job.pk}/download/",
        f"/api/exports/{job.pk}/provenance/",
        f"/api/exports/{job.pk}/zip/",
    ]
    statuses = {client.get(url).status_code for url in urls}
    create = client.post(
        f"/api/projects/{project.pk}/exports/", {"format": "json"}, format="json"
    ).status_code
    expected = {
        "annotator": 403,
        "auditor": 403,
        "other_owner": 404,
        "admin": 200,
        "anonymous": 401,
    }[role]
    assert statuses == {expected}
    assert create == (202 if role == "admin" else expected)


def test_download_accepts_any_accept_header(owner, client_for):
    project = project_factory(owner, tasks=1)
    job = services.export_job_create(project=project, user=owner, fmt="jsonl")
    services.export_job_run(job_id=job.pk)
    response = client_for(owner).get(
        f"/api/exports/{job.pk}/download/", HTTP_ACCEPT="application/octet-stream"
    )
    assert response.status_code == 200


# --- Command ---------------------------------------------------------------------------------


def test_command_writes_the_file_and_its_provenance(tmp_path):
    project = labeled_project(TaskType.TEXT_SPANS, tasks=2)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "export_tasks",
        str(project.pk),
        "conll2003",
        str(tmp_path / "ner.conll"),
        "--majority",
        "--only-finished",
        stdout=out,
        stderr=err,
    )
    assert "Exported 2 tasks" in out.getvalue()
    assert "exported 2 / 2 tasks" in err.getvalue()
    assert (tmp_path / "ner.conll").read_text().startswith("-DOCSTART-")
    record = json.loads((tmp_path / "ner.provenance.json").read_text())
    assert record["options"] == {"only_finished": True, "majority": True}


def test_command_errors(tmp_path):
    from django.core.management.base import CommandError

    project = project_factory(task_type=TaskType.TEXT_CLASSIFICATION)
    with pytest.raises(CommandError, match="does not fit"):
        call_command("export_tasks", str(project.pk), "coco", str(tmp_path / "x.json"))
    with pytest.raises(CommandError, match="No project"):
        call_command("export_tasks", "999999", "json", str(tmp_path / "x.json"))


# --- Pages -----------------------------------------------------------------------------------


def test_project_page_loads_the_export_panel(owner, client):
    project = labeled_project(TaskType.IMAGE_BOXES, owner=owner, tasks=1)
    client.force_login(owner)
    page = client.get(reverse("labeling:project_detail", args=[project.pk])).content.decode()
    panel_url = reverse("labeling:export_panel", args=[project.pk])
    assert f'hx-get="{panel_url}"' in page
    panel = client.get(panel_url, HTTP_HX_REQUEST="true").content.decode()
    assert '<option value="coco"' in panel and 'value="conll2003"' not in panel
    assert "<html" not in panel
    full = client.get(panel_url).content.decode()
    assert "<html" in full and 'value="coco"' in full


def test_page_post_creates_a_job_and_lists_it(owner, client, django_capture_on_commit_callbacks):
    project = labeled_project(TaskType.TEXT_CLASSIFICATION, owner=owner, tasks=1)
    client.force_login(owner)
    url = reverse("labeling:export_panel", args=[project.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"format": "jsonl", "majority": "1"}, HTTP_HX_REQUEST="true")
    assert 'data-testid="export-jobs"' in response.content.decode()
    job = ExportJob.objects.get()
    assert job.majority and not job.only_finished and job.status == JobStatus.DONE
    html = client.get(reverse("labeling:export_jobs", args=[project.pk])).content.decode()
    assert reverse("api:export-download", args=[job.pk]) in html
    assert reverse("api:export-zip", args=[job.pk]) in html
    assert 'hx-trigger="every 1s"' not in html
    response = client.post(url, {"format": "coco"})
    assert response.status_code == 302 and ExportJob.objects.count() == 1


def test_job_list_polls_while_a_job_runs(owner, client):
    project = project_factory(owner, tasks=1)
    ExportJob.objects.create(project=project, created_by=owner, format="json")
    client.force_login(owner)
    html = client.get(reverse("labeling:export_jobs", args=[project.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html


@pytest.mark.parametrize("role", ["annotator", "auditor", "other_owner"])
def test_pages_are_for_the_owner(role, owner, client):
    project = project_factory(owner, tasks=1)
    client.force_login(user_factory("owner" if role == "other_owner" else role))
    for name in ("labeling:export_panel", "labeling:export_jobs"):
        status = client.get(reverse(name, args=[project.pk])).status_code
        assert status == (404 if role == "other_owner" else 403)
