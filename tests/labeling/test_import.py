"""Imports: every format, atomicity, and the bad inputs of issue 3 (SQLite batch path and, run
with DATABASE_URL, the PostgreSQL COPY path)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from PIL import Image

from labeling.importing import parsers
from labeling.importing.loader import tasks_import
from labeling.importing.services import import_job_create, import_job_run
from labeling.models import ImportJob, Task, TaskType
from labeling.services import tasks_create
from tests.factories import project_factory

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.django_db


@pytest.fixture
def run(owner, django_capture_on_commit_callbacks):
    """Upload `content` as `name` through the service; the job runs on commit (Celery eager)."""

    def go(project, name: str, content: bytes, fmt: str | None = None) -> ImportJob:
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job_create(
                project=project, user=project.owner, file=SimpleUploadedFile(name, content), fmt=fmt
            )
        job.refresh_from_db()
        return job

    return go


@pytest.fixture
def project(owner):
    return project_factory(owner)


def jsonl(*rows) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def messages(job) -> list[tuple]:
    return [(e["line"], e["message"]) for e in job.errors]


# --- formats ----------------------------------------------------------------------------------
def test_jsonl_rows_become_tasks(run, project):
    job = run(project, "tasks.jsonl", (FIXTURES / "tasks.jsonl").read_bytes())
    assert job.status == "done", job.errors
    assert (job.total, job.imported, job.error_count) == (3, 3, 0)
    tasks = list(project.tasks.order_by("id"))
    assert [t.external_id for t in tasks] == ["a", None, "c"]
    assert [t.data for t in tasks] == [
        {"text": "first task"},
        {"text": "second task"},
        {"text": "third task"},
    ]
    assert [t.categories for t in tasks] == [None, ["gore"], []]
    assert [t.category_mask for t in tasks] == [0, 2, 0]  # gore is bit 1
    assert {t.slots_free for t in tasks} == {project.annotations_per_task}
    assert {t.annotation_count for t in tasks} == {0}
    assert all(t.created_at for t in tasks)


def test_unmarked_tasks_of_a_sensitive_project_are_sensitive(run, owner):
    project = project_factory(owner, content_categories=["violence"], annotations_per_task=3)
    job = run(project, "t.jsonl", jsonl({"text": "a"}, {"text": "b", "categories": []}))
    assert job.status == "done"
    assert [(t.category_mask, t.slots_free) for t in project.tasks.order_by("id")] == [
        (1, 3),  # violence is bit 0
        (0, 3),
    ]


def test_json_list_with_wrappers_and_predictions(run, project):
    content = orjson.dumps(
        [
            {"text": "flat", "id": 7},
            {
                "data": {"text": 'wrapped, with [brackets] and "quotes" and \\ and {braces}'},
                "id": "w",
                "predictions": [{"result": {"label": "pos"}, "score": 0.5, "model": "m1"}],
            },
        ],
        option=orjson.OPT_INDENT_2,
    )
    job = run(project, "tasks.json", content)
    assert job.status == "done", job.errors
    first, second = project.tasks.order_by("id")
    assert (first.external_id, first.data, first.predictions) == ("7", {"text": "flat"}, None)
    assert second.data["text"].startswith("wrapped, with [brackets]")
    assert second.predictions == [{"result": {"label": "pos"}, "score": 0.5, "model": "m1"}]


def test_label_studio_tasks_keep_predictions_as_suggestions(run, project):
    job = run(
        project,
        "export.json",
        (FIXTURES / "label_studio_tasks.json").read_bytes(),
        fmt="label_studio",
    )
    assert job.status == "done", job.errors
    tasks = list(project.tasks.order_by("id"))
    assert [t.external_id for t in tasks] == ["101", "102", None]
    # Annotations come back as suggestions too, after the predictions.
    assert tasks[0].predictions == [
        {"result": {"label": "pos"}, "score": 0.91, "model": "sentiment-v2"},
        {"result": {"label": "neg"}, "model": "annotation"},
    ]
    assert tasks[1].predictions is None


def test_label_studio_spans_and_rectangles_are_converted(run, owner):
    spans = project_factory(owner, task_type=TaskType.TEXT_SPANS)
    job = run(
        spans,
        "ls.json",
        orjson.dumps(
            [
                {
                    "data": {"text": "Ada met Charles"},
                    "predictions": [
                        {
                            "result": [
                                {
                                    "type": "labels",
                                    "value": {"start": 0, "end": 3, "labels": ["PER"]},
                                },
                                {
                                    "type": "labels",
                                    "value": {"start": 8, "end": 15, "labels": ["PER"]},
                                },
                            ]
                        }
                    ],
                }
            ]
        ),
        fmt="label_studio",
    )
    assert job.status == "done", job.errors
    assert spans.tasks.get().predictions[0]["result"] == {
        "spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 8, "end": 15, "label": "PER"}]
    }

    boxes = project_factory(owner, task_type=TaskType.IMAGE_BOXES)
    region = {
        "type": "rectanglelabels",
        "original_width": 200,
        "original_height": 100,
        "value": {"x": 10, "y": 20, "width": 50, "height": 30, "rectanglelabels": ["cat"]},
    }
    job = run(
        boxes,
        "ls.json",
        orjson.dumps(
            [
                {
                    "data": {"image": "https://example.org/a.png"},
                    "predictions": [{"result": [region]}],
                }
            ]
        ),
        fmt="label_studio",
    )
    assert job.status == "done", job.errors
    assert boxes.tasks.get().predictions[0]["result"] == {
        "boxes": [{"x": 20.0, "y": 20.0, "w": 100.0, "h": 30.0, "label": "cat"}]
    }

    del region["original_width"]
    job = run(
        boxes,
        "ls.json",
        orjson.dumps(
            [
                {
                    "data": {"image": "https://example.org/b.png"},
                    "predictions": [{"result": [region]}],
                }
            ]
        ),
        fmt="label_studio",
    )
    assert job.status == "failed"
    assert "original_width" in job.errors[0]["message"]


def test_label_studio_rows_need_a_data_object(run, project):
    job = run(project, "ls.json", b'[{"text": "flat"}]', fmt="label_studio")
    assert messages(job) == [(1, 'a Label Studio task needs a "data" object')]


def test_prediction_with_unknown_label_is_an_error(run, project):
    job = run(
        project,
        "t.jsonl",
        jsonl({"data": {"text": "x"}, "predictions": [{"result": {"label": "nope"}}]}),
    )
    assert job.status == "failed"
    assert job.errors[0]["message"].startswith("prediction 1: Choose one label")


def test_csv_columns_ids_categories_and_formula_cells(run, project):
    job = run(project, "tasks.csv", (FIXTURES / "tasks.csv").read_bytes())
    assert job.status == "done", job.errors
    tasks = list(project.tasks.order_by("id"))
    assert [t.external_id for t in tasks] == ["r1", "r2", "r3"]
    assert tasks[0].data == {"text": "Hello, world", "source": "forum"}
    assert tasks[0].categories is None
    # A formula cell stays the text it is; exports escape it.
    assert tasks[1].data["text"] == '=HYPERLINK("http://evil")'
    assert tasks[1].categories == ["hate", "violence"]
    assert tasks[2].data["text"] == "multi\nline text"
    assert tasks[2].categories == []


def test_csv_errors_are_reported_by_line(run, project):
    content = b'text,categories\n"ok"\n"fine",unknown_thing\n,\n"x","a","b"\n'
    job = run(project, "t.csv", content)
    assert job.status == "failed"
    lines = [line for line, _ in messages(job)]
    assert lines == [2, 3, 4, 5]
    assert "1 cells" in job.errors[0]["message"]
    assert "unknown categories: unknown_thing" in job.errors[1]["message"].lower()


def test_csv_header_must_name_columns_once(run, project):
    job = run(project, "t.csv", b"text,text\na,b\n")
    assert messages(job) == [(1, "the header names these columns twice: text")]


# --- atomicity and errors ---------------------------------------------------------------------
def test_one_bad_row_imports_nothing_and_every_error_is_listed(run, project):
    rows = [{"text": f"row {n}"} for n in range(10)]
    rows[3] = {"txt": "typo"}
    rows[7] = ["not", "an", "object"]
    job = run(project, "t.jsonl", jsonl(*rows))
    assert job.status == "failed"
    assert (job.total, job.imported, job.error_count) == (10, 0, 2)
    assert messages(job) == [
        (4, "the field “text” is missing: tasks of type “Text classification” need it"),
        (8, "each task must be a JSON object, not a list"),
    ]
    assert not Task.objects.exists()


def test_errors_are_capped_then_counted(run, project, settings):
    settings.FAIRLABEL_IMPORT_MAX_ERRORS = 3
    job = run(project, "t.jsonl", b"1\n2\n3\n4\n5\n")
    assert job.error_count == 5
    assert [line for line, _ in messages(job)] == [1, 2, 3]


def test_wrong_types(run, project):
    job = run(
        project,
        "t.jsonl",
        jsonl(
            {"text": 5},
            {"text": "ok", "id": [1]},
            {"text": "ok", "categories": "violence"},
            {"text": "ok", "id": True},
            {"text": ""},
            {"data": {"text": "x"}, "predictions": {"a": 1}},
        ),
    )
    assert [m for _, m in messages(job)] == [
        # {"text": 5} has the field, of the wrong type: not "missing".
        "the field “text” must be text (a string in quotes), not the number 5",
        "the id must be a string or a whole number",
        "categories must be a list of names",
        "the id must be a string or a whole number",
        "the field “text” is empty",
        "predictions must be a list",
    ]


def test_missing_field_the_task_type_needs(run, owner):
    images = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
    job = run(images, "t.jsonl", jsonl({"text": "not an image"}))
    assert messages(job) == [
        (1, "the field “image” is missing: tasks of type “Image classification” need it")
    ]


def test_duplicate_ids_in_the_file_and_against_existing_tasks(run, project):
    tasks_create(project=project, rows=[{"data": {"text": "old"}, "id": "old-1"}])
    job = run(
        project,
        "t.jsonl",
        jsonl(
            {"id": "n1", "text": "a"},
            {"id": "n1", "text": "b"},
            {"id": "old-1", "text": "c"},
            {"id": 5, "text": "d"},
            {"id": "5", "text": "e"},
        ),
    )
    assert messages(job) == [
        (2, "the id “n1” appears more than once in this file"),
        (3, "a task with the id “old-1” already exists in this project"),
        (5, "the id “5” appears more than once in this file"),
    ]
    assert project.tasks.count() == 1


def test_nul_characters_are_refused(run, project):
    job = run(project, "t.jsonl", b'{"text": "a\\u0000b"}\n{"text": "a\\\\u0000b"}\n')
    assert messages(job) == [(1, "a NUL character (\\u0000) cannot be stored")]


# --- bad input (issue 3) ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["empty.jsonl", "empty.json", "empty.csv"])
def test_empty_file(run, project, name):
    job = run(project, name, b"")
    assert job.status == "failed"
    assert job.errors[0]["line"] == 1
    assert job.errors[0]["message"] in ("the file is empty", "the file holds no tasks")


def test_empty_list_holds_no_tasks(run, project):
    job = run(project, "t.json", b"  [ ]  ")
    assert messages(job) == [(1, "the file holds no tasks")]


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (
            b'[{"text": "a"},\n {"text": "b"',
            2,
            "the file ends in the middle of a task (truncated JSON?)",
        ),
        (
            b'[{"text": "a"},\n {"text": "b',
            2,
            "the file ends in the middle of a task (truncated JSON?)",
        ),
        (
            b'[{"text": "a"},\n {"text": "b"}',
            2,
            "the file ends before the list is closed with ] (truncated JSON?)",
        ),
        (
            b'[{"text": "a"},\n {"text": "b"},\n',
            3,
            "the file ends before the list is closed with ] (truncated JSON?)",
        ),
    ],
)
def test_truncated_json(run, project, content, line, message):
    job = run(project, "t.json", content)
    assert job.status == "failed"
    assert (job.errors[-1]["line"], job.errors[-1]["message"]) == (line, message)
    assert not Task.objects.exists()


def test_truncated_jsonl_last_line(run, project):
    job = run(project, "t.jsonl", b'{"text": "a"}\n{"text": "b')
    assert job.status == "failed"
    assert job.errors[0]["line"] == 2
    assert job.errors[0]["message"].startswith("not valid JSON")


def test_json_that_is_not_a_list(run, project):
    job = run(project, "t.json", b'{"text": "a"}')
    assert messages(job) == [(1, "a JSON file must hold a list of tasks: [{...}, {...}]")]


def test_invalid_utf8_reports_its_line(run, project):
    bad = b'{"text": "caf\xe9"}'
    job = run(project, "t.jsonl", b'{"text": "ok"}\n{"text": "fine"}\n' + bad + b"\n")
    assert messages(job) == [(3, "not valid UTF-8 text (save the file as UTF-8)")]
    job = run(project, "t.json", b'[{"text": "ok"},\n{"text": "fine",\n "x": "' + b"\xff" + b'"}]')
    assert messages(job) == [(3, "not valid UTF-8 text (save the file as UTF-8)")]
    job = run(project, "t.csv", b"text\nok\ncaf\xe9\n")
    assert messages(job) == [(3, "not valid UTF-8 text (save the file as UTF-8)")]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom.jsonl", b'\xef\xbb\xbf{"text": "a"}\r\n{"text": "b"}\r\n'),
        ("bom.json", b'\xef\xbb\xbf[{"text": "a"}, {"text": "b"}]'),
        ("bom.csv", b"\xef\xbb\xbftext\r\na\r\nb\r\n"),
    ],
)
def test_a_bom_is_accepted(run, project, name, content):
    job = run(project, name, content)
    assert job.status == "done", job.errors
    assert sorted(project.tasks.values_list("data", flat=True), key=str) == [
        {"text": "a"},
        {"text": "b"},
    ]


@pytest.mark.parametrize("name", ["big.jsonl", "big.json", "big.csv"])
def test_a_20_mb_single_line_is_refused_cleanly(run, project, name):
    text = "x" * (20 * 1024 * 1024)
    if name.endswith(".csv"):
        content = b"text\n" + text.encode() + b"\n"
    else:
        row = orjson.dumps({"text": text})
        content = b"[" + row + b"]" if name.endswith(".json") else row
    job = run(project, name, content + (b"\n" if name.endswith(".jsonl") else b""))
    assert job.status == "failed"
    assert "larger than 10 MB" in job.errors[0]["message"]
    assert not Task.objects.exists()


def test_jsonl_goes_on_after_a_too_long_line(run, project):
    content = b'{"text": "a"}\n' + b"y" * (11 * 1024 * 1024) + b'\n{"text": "b"}\n{"text": 1}\n'
    job = run(project, "t.jsonl", content)
    assert [line for line, _ in messages(job)] == [2, 4]


def test_over_the_size_limit(client_for, project, settings):
    settings.FAIRLABEL_IMPORT_MAX_BYTES = 100
    response = client_for(project.owner).post(
        f"/api/projects/{project.pk}/imports/",
        {"file": SimpleUploadedFile("t.jsonl", b'{"text": "x"}\n' * 20)},
        format="multipart",
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert not ImportJob.objects.exists()


# --- zip of images ----------------------------------------------------------------------------
def png(color="red", size=(8, 6)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def make_zip(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


@pytest.fixture
def image_project(owner):
    return project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)


def test_zip_of_images_becomes_tasks(run, image_project, client, annotator, auditor):
    job = run(
        image_project,
        "pics.zip",
        make_zip(
            {
                "cats/one.png": png(),
                "two photo.png": png("blue", (4, 4)),
                "__MACOSX/._one.png": b"junk",
                ".DS_Store": b"junk",
                "empty/": b"",
            }
        ),
    )
    assert job.status == "done", job.errors
    tasks = list(image_project.tasks.order_by("id"))
    assert [t.data["name"] for t in tasks] == ["cats/one.png", "two photo.png"]
    assert [(t.data["width"], t.data["height"]) for t in tasks] == [(8, 6), (4, 4)]
    url = tasks[0].data["image"]
    assert url.startswith(f"/media-protected/{image_project.pk}/")

    client.force_login(image_project.owner)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png()
    client.force_login(auditor)
    assert client.get(url).status_code == 200
    client.force_login(annotator)
    assert client.get(url).status_code == 404  # not published
    client.logout()
    assert client.get(url).status_code == 302  # to the log-in page


def test_zip_images_are_shown_to_the_annotator_holding_the_task(
    run, owner, client, annotator, make_user
):
    project = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
    job = run(project, "pics.zip", make_zip({"a.png": png()}))
    url = project.tasks.get().data["image"]
    from labeling.dispatch import assignment_next
    from labeling.services import project_publish

    project = project_publish(project=project)
    client.force_login(annotator)
    assert client.get(url).status_code == 404  # not given this task
    assignment_next(annotator=annotator, project=project)
    assert client.get(url).status_code == 200
    client.force_login(make_user("owner"))
    assert client.get(url).status_code == 404
    assert job.status == "done"
    # Paths that climb out of the project's folder are not served.
    client.force_login(owner)
    assert client.get(f"/media-protected/{project.pk}/{'0' * 32}/../a.png").status_code == 404
    assert client.get(f"/media-protected/{project.pk}/notatoken/a.png").status_code == 404


def test_zip_with_unsafe_paths_is_refused(run, image_project):
    job = run(
        image_project,
        "bad.zip",
        make_zip(
            {"ok.png": png(), "../escape.png": png(), "/etc/abs.png": png(), "a/../../b.png": png()}
        ),
    )
    assert job.status == "failed"
    assert [line for line, _ in messages(job)] == ["../escape.png", "/etc/abs.png", "a/../../b.png"]
    assert all("unsafe path" in m for _, m in messages(job))
    assert not image_project.tasks.exists()


def test_zip_bomb_is_refused(run, image_project, settings):
    bomb = make_zip({"bomb.png": b"\0" * (30 * 1024 * 1024)}, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 100_000
    job = run(image_project, "bomb.zip", bomb)
    assert messages(job) == [("bomb.png", "compressed too well to be an image (possible zip bomb)")]
    settings.FAIRLABEL_IMPORT_MAX_BYTES = 2 * 1024 * 1024
    job = run(
        image_project,
        "bomb.zip",
        make_zip({f"{n}.png": b"\0" * (1024 * 1024) for n in range(3)}, zipfile.ZIP_DEFLATED),
    )
    assert job.errors[0]["line"] is None
    assert "possible zip bomb" in job.errors[0]["message"]


def stored_files(folder: str) -> set[str]:
    from django.core.files.storage import default_storage

    if not default_storage.exists(folder):
        return set()
    return {
        f"{d}/{f}"
        for d in default_storage.listdir(folder)[0]
        for f in default_storage.listdir(f"{folder}/{d}")[1]
    }


def test_a_damaged_image_in_a_zip_is_an_error_and_nothing_is_stored(run, image_project):
    folder = f"imports/{image_project.pk}"
    before = stored_files(folder)
    job = run(
        image_project,
        "mixed.zip",
        make_zip({"a.png": png(), "notes.txt": b"hello", "fake.jpg": b"\xff\xd8\xff not really"}),
    )
    assert job.status == "failed"
    # notes.txt is no image file at all: skipped, not counted among the errors.
    assert messages(job) == [("fake.jpg", "not an image (or a damaged one)")]
    assert not image_project.tasks.exists()
    assert stored_files(folder) == before


def test_files_that_are_not_images_are_skipped_with_a_warning(run, image_project):
    """A readme beside the photos no longer fails the whole import: the images are imported
    and the page and API say which files were left out."""
    job = run(
        image_project,
        "photos.zip",
        make_zip({"a.png": png(), "b.png": png(), "readme.txt": b"taken in 2024"}),
    )
    assert job.status == "done"
    assert (job.imported, job.error_count) == (2, 0)
    assert [(e["line"], e["level"]) for e in job.errors] == [("readme.txt", "warning")]
    assert job.errors[0]["message"].startswith("skipped: not an image file")


def test_a_zip_of_nothing_but_a_readme_says_it_holds_no_images(run, image_project):
    job = run(image_project, "notes.zip", make_zip({"readme.txt": b"hello"}))
    assert job.status == "failed"
    assert messages(job)[0][0] is None
    assert "the zip holds no images" in messages(job)[0][1] and "readme.txt" in messages(job)[0][1]


def test_not_a_zip(run, image_project):
    job = run(image_project, "pics.zip", b"PK but not really")
    assert messages(job) == [(None, "not a zip file")]


# --- the API ----------------------------------------------------------------------------------
def test_api_import_and_status(
    client_for, project, make_user, annotator, auditor, django_capture_on_commit_callbacks
):
    owner_api = client_for(project.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.post(
            f"/api/projects/{project.pk}/imports/",
            {"file": SimpleUploadedFile("t.jsonl", jsonl({"text": "a"}))},
            format="multipart",
        )
    assert response.status_code == 202
    body = response.json()
    assert {"id", "status", "total", "imported", "errors"} <= set(body)
    # Celery runs eagerly in tests, after the commit of the request.
    job_url = f"/api/imports/{body['id']}/"
    detail = owner_api.get(job_url).json()
    assert detail["status"] == "done"
    assert (detail["total"], detail["imported"], detail["errors"]) == (1, 1, [])
    assert detail["bytes_read"] == detail["size_bytes"] > 0
    assert detail["error_count"] == 0
    assert client_for(make_user("owner")).get(job_url).status_code == 404
    for other in (annotator, auditor):
        assert client_for(other).get(job_url).status_code == 403


def test_api_reports_errors(client_for, project, django_capture_on_commit_callbacks):
    api = client_for(project.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/projects/{project.pk}/imports/",
            {"file": SimpleUploadedFile("t.jsonl", b'{"text": "a"}\n{"x": 1}\n')},
            format="multipart",
        )
    detail = api.get(f"/api/imports/{response.json()['id']}/").json()
    assert detail["status"] == "failed"
    assert detail["errors"] == [
        {
            "line": 2,
            "message": "the field “text” is missing: tasks of type “Text classification” need it",
        }
    ]


def test_api_unknown_format(client_for, project):
    api = client_for(project.owner)
    response = api.post(
        f"/api/projects/{project.pk}/imports/",
        {"file": SimpleUploadedFile("t.xlsx", b"x")},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_format"
    response = api.post(
        f"/api/projects/{project.pk}/imports/",
        {"file": SimpleUploadedFile("t.jsonl", b"x"), "format": "yaml"},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_format"


def test_api_only_the_owner_imports(client_for, project, make_user, annotator, auditor):
    url = f"/api/projects/{project.pk}/imports/"
    upload = {"file": SimpleUploadedFile("t.jsonl", b'{"text": "a"}')}
    assert client_for(make_user("owner")).post(url, upload, format="multipart").status_code == 404
    for other in (annotator, auditor):
        assert client_for(other).post(url, upload, format="multipart").status_code == 403
    assert not ImportJob.objects.exists()


# --- the job ------------------------------------------------------------------------------------
def test_a_job_runs_once(run, project):
    job = run(project, "t.jsonl", jsonl({"text": "a"}))
    assert job.status == "done"
    again = import_job_run(job_id=job.pk)
    assert again.status == "done"
    assert project.tasks.count() == 1
    assert import_job_run(job_id=10**9) is None


def test_the_celery_task_is_enqueued_after_commit(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        job = import_job_create(
            project=project,
            user=project.owner,
            file=SimpleUploadedFile("t.jsonl", b'{"text": "a"}'),
        )
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == "pending"
    from labeling.importing.tasks import import_tasks

    assert import_tasks.name == "labeling.import_tasks"
    assert import_tasks.delay(job_id=job.pk).get() == "done"


# --- the command ------------------------------------------------------------------------------
def test_management_command(project, tmp_path, capsys):
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(jsonl(*({"text": f"t{n}"} for n in range(5))))
    call_command("import_tasks", str(project.pk), str(path))
    out = capsys.readouterr()
    assert "Imported 5 tasks" in out.out
    assert "100%" in out.err
    assert project.tasks.count() == 5

    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text,source\nok,a\n\n,b\n")
    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_tasks", str(project.pk), str(bad))
    assert "line 4: the field “text” is empty" in capsys.readouterr().err
    with pytest.raises(CommandError, match="Cannot tell the format"):
        call_command("import_tasks", str(project.pk), str(tmp_path / "x.txt"))


# --- the streaming parsers --------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_json_list_scanner_across_chunk_boundaries(monkeypatch, chunk):
    monkeypatch.setattr(parsers, "CHUNK_BYTES", chunk)
    rows = [
        {"text": 'a "quoted" ] } , [ { \\ word', "n": [1, {"x": "]"}]},
        {"text": 'é ü 漢字 \\" end'},
        3,
        {"text": ""},
    ]
    content = b"\xef\xbb\xbf [\n" + b",\n  ".join(orjson.dumps(r) for r in rows) + b"\n]\n"
    records = list(parsers.json_list_records(parsers.ByteCounter(io.BytesIO(content))))
    assert [value for _, value in records] == rows
    assert [line for line, _ in records] == [2, 3, 4, 5]


@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_jsonl_lines_across_chunk_boundaries(monkeypatch, chunk):
    monkeypatch.setattr(parsers, "CHUNK_BYTES", chunk)
    content = b'{"a": 1}\n\n{"b": "\\n"}\r\n  \n{"c": 3}'
    records = list(parsers.jsonl_records(parsers.ByteCounter(io.BytesIO(content))))
    assert records == [(1, {"a": 1}), (3, {"b": "\n"}), (5, {"c": 3})]


def test_tasks_import_never_reads_the_whole_file(project, monkeypatch):
    """The reader only ever asks for chunks, whatever the file's size."""
    sizes = []

    class Spy(io.BytesIO):
        def read(self, size=-1):
            sizes.append(size)
            return super().read(size)

    outcome = tasks_import(
        project=project, stream=Spy(jsonl(*({"text": "t"},) * 1000)), fmt="jsonl"
    )
    assert outcome.imported == 1000
    assert sizes and all(0 < s <= parsers.CHUNK_BYTES for s in sizes)


# --- exported files come back: external ids and annotations as suggestions ---------------------
def test_external_id_comes_ahead_of_id_in_wrapped_rows(run, project):
    job = run(
        project,
        "t.jsonl",
        jsonl(
            {"id": 1, "external_id": "ext-1", "data": {"text": "a"}},
            {"id": 2, "external_id": None, "data": {"text": "b"}},  # present and null: no id
            {"id": 3, "data": {"text": "c"}},
            # A flat row has no wrapper: external_id is data, as before.
            {"external_id": "kept", "text": "d"},
        ),
    )
    assert job.status == "done", job.errors
    tasks = list(project.tasks.order_by("id"))
    assert [t.external_id for t in tasks] == ["ext-1", None, "3", None]
    assert tasks[3].data == {"external_id": "kept", "text": "d"}


def test_label_studio_external_id_comes_from_meta(run, project):
    job = run(
        project,
        "ls.json",
        orjson.dumps(
            [
                {"id": 1, "data": {"text": "a"}, "meta": {"external_id": "ext-1"}},
                {"id": 2, "data": {"text": "b"}, "meta": {"external_id": None}},
                {"id": 3, "data": {"text": "c"}, "meta": {"source": "x"}},
            ]
        ),
        fmt="label_studio",
    )
    assert job.status == "done", job.errors
    assert list(project.tasks.order_by("id").values_list("external_id", flat=True)) == [
        "ext-1",
        None,
        "3",
    ]


def test_annotations_become_suggestions_after_predictions_in_id_order(run, project):
    job = run(
        project,
        "t.json",
        orjson.dumps(
            [
                {
                    "external_id": "e",
                    "data": {"text": "x"},
                    "predictions": [{"result": {"label": "neutral"}, "score": 0.4, "model": "m"}],
                    "annotations": [
                        {"id": 9, "annotator": "annotator-b", "result": {"label": "neg"}},
                        {"id": 4, "annotator": "annotator-a", "result": {"label": "pos"}},
                    ],
                }
            ]
        ),
    )
    assert job.status == "done", job.errors
    task = project.tasks.get()
    assert task.predictions == [
        {"result": {"label": "neutral"}, "score": 0.4, "model": "m"},
        {"result": {"label": "pos"}, "model": "annotation:annotator-a"},
        {"result": {"label": "neg"}, "model": "annotation:annotator-b"},
    ]
    # Suggestions only: nobody is credited with (or paid for) work done elsewhere.
    assert (task.annotation_count, task.slots_free) == (0, project.annotations_per_task)


def test_label_studio_annotations_are_converted_and_cancelled_ones_skipped(run, owner):
    project = project_factory(owner, task_type=TaskType.MULTI_LABEL)
    choices = {"type": "choices", "value": {"choices": ["tech", "sports"]}}
    job = run(
        project,
        "ls.json",
        orjson.dumps(
            [
                {
                    "data": {"text": "x"},
                    "annotations": [
                        {"result": [choices], "meta": {"annotator": "annotator-1"}},
                        {"result": [], "was_cancelled": True},
                    ],
                }
            ]
        ),
        fmt="label_studio",
    )
    assert job.status == "done", job.errors
    assert project.tasks.get().predictions == [
        {"result": {"labels": ["sports", "tech"]}, "model": "annotation:annotator-1"}
    ]


def test_bad_annotations_are_row_errors(run, project):
    job = run(
        project,
        "t.jsonl",
        jsonl(
            {"data": {"text": "a"}, "annotations": [{"id": 1, "result": {"label": "nope"}}]},
            {"data": {"text": "b"}, "annotations": {"result": {"label": "pos"}}},
            {"data": {"text": "c"}, "annotations": ["pos"]},
            {"data": {"text": "d"}, "annotations": [{"id": 1}]},
            {"data": {"text": "e"}, "annotations": []},
        ),
    )
    assert job.status == "failed" and job.imported == 0
    assert messages(job) == [
        (1, "annotation 1: Choose one label among: pos, neg, neutral."),
        (2, "annotations must be a list"),
        (3, "annotation 1 must be an object"),
        (4, "annotation 1: The result must be a JSON object."),
    ]


def test_csv_export_columns_are_understood(run, project):
    annotations = orjson.dumps(
        [
            {"id": 5, "annotator": "annotator-a", "result": {"label": "neg"}},
            {"id": 2, "annotator": "annotator-b", "result": {"label": "pos"}},
        ]
    ).decode()
    content = (
        "id,external_id,text,data.id,data.agreement,annotations,label:pos,label:neg,"
        "majority,agreement\n"
        f'11,ext-1,hello,7,high,"{annotations.replace(chr(34), chr(34) * 2)}",1,1,pos,0.5\n'
        "12,,world,8,low,[],0,0,,\n"
    ).encode()
    job = run(project, "export.csv", content)
    assert job.status == "done", job.errors
    first, second = project.tasks.order_by("id")
    assert (first.external_id, second.external_id) == ("ext-1", None)
    assert first.data == {"text": "hello", "id": "7", "agreement": "high"}
    assert first.predictions == [
        {"result": {"label": "pos"}, "model": "annotation:annotator-b"},
        {"result": {"label": "neg"}, "model": "annotation:annotator-a"},
    ]
    assert second.data == {"text": "world", "id": "8", "agreement": "low"}
    assert second.predictions is None


def test_csv_bad_annotations_cell_and_clashing_data_columns(run, project):
    job = run(
        project,
        "t.csv",
        b'external_id,text,annotations\n1,ok,\n2,bad,"[{""result"": 1}]"\n3,x,{nope\n',
    )
    assert job.status == "failed"
    assert messages(job) == [
        (3, "annotation 1: The result must be a JSON object."),
        (4, "the annotations cell is not a JSON list"),
    ]
    job = run(project, "t.csv", b"external_id,annotations,text,data.text\n1,,a,b\n")
    assert messages(job) == [(1, "the columns text and data.text both name the data field text")]


def test_csv_columns_named_like_export_columns_are_data_in_other_files(owner):
    from labeling.importing.loader import tasks_import

    project = project_factory(owner)
    body = b"id,text,agreement,annotations\nr1,hello,full,some notes\n"
    outcome = tasks_import(project=project, stream=io.BytesIO(body), fmt="csv")
    assert outcome.ok, outcome.errors
    task = project.tasks.get()
    assert task.external_id == "r1"
    assert task.data == {"text": "hello", "agreement": "full", "annotations": "some notes"}


def test_an_import_whose_worker_died_runs_again_once_its_lease_lapsed(owner):
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from labeling.importing.services import import_job_run
    from labeling.models import ImportJob

    project = project_factory(owner)
    job = ImportJob.objects.create(
        project=project,
        created_by=owner,
        format="jsonl",
        status="running",
        file=ContentFile(b'{"text": "a"}\n', name="t.jsonl"),
        started_at=timezone.now() - timedelta(minutes=30),
        lease_expires_at=timezone.now() + timedelta(seconds=30),
        attempts=1,
        total=7,  # what the dead run had read
    )
    assert import_job_run(job_id=job.pk).status == "running"  # its worker renews: left alone
    assert project.tasks.count() == 0
    ImportJob.objects.filter(pk=job.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    job = import_job_run(job_id=job.pk)
    assert (job.status, job.total, job.imported, job.attempts) == ("done", 1, 1, 2)
    assert job.lease_token is None
    assert project.tasks.count() == 1


# --- messages that say what is wrong (issue 13) -------------------------------------------------
def _nested_row(text: str, depth: int) -> bytes:
    return b'{"text": "%s", "x": ' % text.encode() + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_data_nested_too_deeply_is_reported_as_such(run, project, fmt):
    rows = [
        _nested_row("fine", 200),
        _nested_row("deep", 600),  # the parser reads it; it cannot be stored
        _nested_row("deeper", 1100),  # beyond the parser's limit
    ]
    content = b"\n".join(rows) if fmt == "jsonl" else b"[" + b",\n".join(rows) + b"]"
    job = run(project, f"t.{fmt}", content)
    assert job.status == "failed"
    assert [line for line, _ in messages(job)] == [2, 3]
    for _, message in messages(job):
        assert message.startswith("nested too deeply"), message


def _utf16_csv(encoding: str, bom: bytes) -> bytes:
    return bom + 'id,text\nr1,"héllo, 世界"\nr2,second\n'.encode(encoding)


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", b"\xff\xfe"),  # Excel's "Unicode text", Notepad's "UTF-16 LE"
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),  # no byte-order mark
        ("utf-32-le", b"\xff\xfe\x00\x00"),
    ],
)
def test_a_utf16_csv_is_read(run, project, encoding, bom):
    job = run(project, "t.csv", _utf16_csv(encoding, bom))
    assert job.status == "done", job.errors
    tasks = list(project.tasks.order_by("id"))
    assert [(t.external_id, t.data) for t in tasks] == [
        ("r1", {"text": "héllo, 世界"}),
        ("r2", {"text": "second"}),
    ]


def test_a_utf16_jsonl_in_small_reads_is_read(project):
    """Decoding works across chunk boundaries, whatever the size of each read."""
    from labeling.importing.loader import tasks_import

    content = b"\xff\xfe" + jsonl(*({"text": f"ligne {n} é"} for n in range(300))).decode().encode(
        "utf-16-le"
    )

    class Trickle(io.BytesIO):
        def read(self, size=-1):
            return super().read(7)

    outcome = tasks_import(project=project, stream=Trickle(content), fmt="jsonl")
    assert outcome.ok, outcome.errors
    assert outcome.bytes_read == len(content)
    assert project.tasks.order_by("id").last().data == {"text": "ligne 299 é"}


def test_zip_members_with_backslash_paths_are_imported_as_folders(run, image_project):
    job = run(
        image_project,
        "windows.zip",
        make_zip(
            {
                "photos\\": b"",  # a folder entry
                "photos\\cat.png": png(),
                "photos\\2024\\dog.png": png("blue", (4, 4)),
                "__MACOSX\\photos\\._cat.png": b"junk",
                "photos\\.DS_Store": b"junk",
            }
        ),
    )
    assert job.status == "done", job.errors
    names = list(image_project.tasks.order_by("id").values_list("data__name", flat=True))
    assert names == ["photos/cat.png", "photos/2024/dog.png"]


def test_zip_members_with_backslash_paths_that_climb_out_are_refused(run, image_project):
    job = run(
        image_project,
        "bad.zip",
        make_zip({"ok.png": png(), "..\\escape.png": png(), "a\\..\\..\\b.png": png()}),
    )
    assert job.status == "failed"
    assert [line for line, _ in messages(job)] == ["..\\escape.png", "a\\..\\..\\b.png"]
    assert all("unsafe path" in m for _, m in messages(job))
    assert not image_project.tasks.exists()
