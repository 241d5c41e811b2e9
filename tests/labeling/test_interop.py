"""Formats are a contract: every Label Studio 1.23 export type comes in unchanged, and every
Fairlabel export goes out into the real reader of its format (label-studio-sdk's converter,
pycocotools, pandas, seqeval), on data with accents, emoji, CJK text, decomposed characters,
tabs and runs of spaces.

The Label Studio JSON export is built here as Label Studio 1.23's Export page writes it (every
key of a task and an annotation, predictions given by id or in full); JSON_MIN, CSV and TSV are
then made from it by label_studio_sdk.converter, the code Label Studio itself runs for those
export types."""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from pathlib import Path

import orjson
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from labeling.importing.services import import_job_create
from labeling.models import ImportJob, TaskType
from tests.factories import project_factory

pytestmark = pytest.mark.django_db

# Accents (composed and decomposed), emoji with a joiner and a skin tone, CJK, a tab, runs of
# spaces: what real data holds and what naive tokenizers and CSV writers get wrong.
DECOMPOSED = unicodedata.normalize("NFD", "Amélie")
TEXTS = [
    "Amélie a vu Zoë à Paris 🇫🇷 hier.",
    f"{DECOMPOSED} aime\tle  thé   vert 👩🏽‍💻 !",
    "東京で山田さんに会った。",
    "-5",
]

SENTIMENT = '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">' + (
    '<Choice value="pos"/><Choice value="neg"/></Choices></View>'
)
NER = (
    '<View><Labels name="label" toName="text"><Label value="PER"/><Label value="LOC"/></Labels>'
    '<Text name="text" value="$text"/></View>'
)
BOXES = (
    '<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">'
    '<Label value="cat"/><Label value="dog"/></RectangleLabels></View>'
)


@pytest.fixture
def run(owner, django_capture_on_commit_callbacks):
    def go(project, name: str, content: bytes, fmt: str | None = None, **extra) -> ImportJob:
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job_create(
                project=project,
                user=project.owner,
                file=SimpleUploadedFile(name, content),
                fmt=fmt,
                **extra,
            )
        job.refresh_from_db()
        return job

    return go


# --- a Label Studio 1.23 JSON export ------------------------------------------------------------
def _annotation(annotation_id: int, task_id: int, result: list, **extra) -> dict:
    return {
        "id": annotation_id,
        "completed_by": 1 + annotation_id % 3,
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": f"2025-06-0{annotation_id % 9 + 1}T10:00:00.000000Z",
        "updated_at": f"2025-06-0{annotation_id % 9 + 1}T10:00:00.000000Z",
        "draft_created_at": None,
        "lead_time": 4.5,
        "prediction": {},
        "result_count": len(result),
        "unique_id": f"00000000-0000-0000-0000-{annotation_id:012d}",
        "import_id": None,
        "last_action": None,
        "bulk_created": False,
        "task": task_id,
        "project": 7,
        "updated_by": 1,
        "parent_prediction": None,
        "parent_annotation": None,
        "last_created_by": None,
        **extra,
    }


def _prediction(prediction_id: int, task_id: int, result: list) -> dict:
    return {
        "id": prediction_id,
        "result": result,
        "model_version": "ner-v3",
        "created_ago": "2 hours",
        "score": 0.75,
        "cluster": None,
        "neighbors": None,
        "mislabeling": 0.0,
        "created_at": "2025-06-01T09:00:00.000000Z",
        "updated_at": "2025-06-01T09:00:00.000000Z",
        "model": None,
        "model_run": None,
        "task": task_id,
        "project": 7,
    }


def _task(task_id: int, data: dict, annotations: list, predictions: list) -> dict:
    return {
        "id": task_id,
        "annotations": annotations,
        "file_upload": "3f2a1b0c-tasks.json",
        "drafts": [],
        "predictions": predictions,
        "data": data,
        "meta": {},
        "created_at": "2025-06-01T08:00:00.000000Z",
        "updated_at": "2025-06-01T10:00:00.000000Z",
        "inner_id": task_id,
        "total_annotations": sum(1 for a in annotations if not a["was_cancelled"]),
        "cancelled_annotations": sum(1 for a in annotations if a["was_cancelled"]),
        "total_predictions": len(predictions),
        "comment_count": 0,
        "unresolved_comment_count": 0,
        "last_comment_updated_at": None,
        "project": 7,
        "updated_by": 1,
        "comment_authors": [],
    }


def _choice(region_id: str, value: str) -> dict:
    return {
        "value": {"choices": [value]},
        "id": region_id,
        "from_name": "sentiment",
        "to_name": "text",
        "type": "choices",
        "origin": "manual",
    }


def _span(region_id: str, text: str, start: int, end: int, label: str) -> dict:
    return {
        "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]},
        "id": region_id,
        "from_name": "label",
        "to_name": "text",
        "type": "labels",
        "origin": "manual",
    }


def _box(region_id: str, x: float, y: float, w: float, h: float, label: str) -> dict:
    return {
        "original_width": 640,
        "original_height": 480,
        "image_rotation": 0,
        "value": {
            "x": x,
            "y": y,
            "width": w,
            "height": h,
            "rotation": 0,
            "rectanglelabels": [label],
        },
        "id": region_id,
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
        "origin": "manual",
    }


def sentiment_export(*, full_predictions: bool) -> list[dict]:
    """Four tasks: two annotations (one of them cancelled), one annotation, none, two."""
    return [
        _task(
            11,
            {"text": TEXTS[0]},
            [
                _annotation(21, 11, [_choice("a", "pos")]),
                _annotation(22, 11, [], was_cancelled=True),
            ],
            [_prediction(31, 11, [_choice("p", "neg")])] if full_predictions else [31],
        ),
        _task(
            12,
            {"text": TEXTS[1]},
            # An export may spell the annotator out: only its id may travel.
            [
                _annotation(
                    23,
                    12,
                    [_choice("b", "neg")],
                    completed_by={"id": 3, "email": "ann@example.org"},
                )
            ],
            [],
        ),
        _task(13, {"text": TEXTS[2]}, [], []),
        _task(
            14,
            {"text": TEXTS[3]},
            [
                _annotation(25, 14, [_choice("d", "neg")]),
                _annotation(24, 14, [_choice("c", "pos")]),
            ],
            [],
        ),
    ]


def converted(tasks: list[dict], config: str, fmt: str, tmp_path: Path) -> bytes:
    """What Label Studio writes for `fmt` from these tasks: its own converter."""
    from label_studio_sdk.converter import Converter

    source = tmp_path / "export.json"
    source.write_bytes(orjson.dumps(tasks))
    out = tmp_path / fmt
    Converter(config=config, project_dir=str(tmp_path), download_resources=False).convert(
        str(source), str(out), fmt, is_dir=False
    )
    name = {"JSON_MIN": "result.json", "CSV": "result.csv", "TSV": "result.csv"}[fmt]
    return (out / name).read_bytes()


def _suggested(project) -> list[tuple]:
    return [
        (t.external_id, t.data, [(p.get("model"), p["result"]) for p in t.predictions or []])
        for t in project.tasks.order_by("id")
    ]


# --- Label Studio in --------------------------------------------------------------------------
@pytest.mark.parametrize("full_predictions", [False, True])
def test_label_studio_json_export_imports_unchanged(run, owner, full_predictions):
    project = project_factory(owner, labels=["pos", "neg"])
    content = orjson.dumps(sentiment_export(full_predictions=full_predictions))
    job = run(project, "project-7-at-2025-06-01.json", content, fmt="label_studio")
    assert job.status == "done", job.errors
    predicted = [("ner-v3", {"label": "neg"})] if full_predictions else []
    assert _suggested(project) == [
        (
            "11",
            {"text": TEXTS[0]},
            [*predicted, ("annotation:label-studio-user-1", {"label": "pos"})],
        ),
        ("12", {"text": TEXTS[1]}, [("annotation:label-studio-user-3", {"label": "neg"})]),
        ("13", {"text": TEXTS[2]}, []),
        (
            "14",
            {"text": TEXTS[3]},
            [
                ("annotation:label-studio-user-1", {"label": "pos"}),
                ("annotation:label-studio-user-2", {"label": "neg"}),
            ],
        ),
    ]
    assert b"ann@example.org" not in orjson.dumps([t.predictions for t in project.tasks.all()])
    full = project.tasks.order_by("id").first().predictions
    assert full[0].get("score") == (0.75 if full_predictions else None)


@pytest.mark.parametrize(
    ("fmt", "name"), [("JSON_MIN", "a.json"), ("CSV", "a.csv"), ("TSV", "a.tsv")]
)
def test_label_studio_flat_exports_group_rows_by_task(run, owner, tmp_path, fmt, name):
    project = project_factory(owner, labels=["pos", "neg"])
    content = converted(sentiment_export(full_predictions=True), SENTIMENT, fmt, tmp_path)
    if fmt == "TSV":
        assert b"\t" in content.splitlines()[0]
    job = run(project, name, content)
    assert job.status == "done", job.errors
    assert _suggested(project) == [
        ("11", {"text": TEXTS[0]}, [("annotation", {"label": "pos"})]),
        ("12", {"text": TEXTS[1]}, [("annotation", {"label": "neg"})]),
        ("13", {"text": TEXTS[2]}, []),
        (
            "14",
            {"text": TEXTS[3]},
            [("annotation", {"label": "pos"}), ("annotation", {"label": "neg"})],
        ),
    ]


TOPICS = (
    '<View><Text name="text" value="$text"/><Choices name="topic" toName="text" '
    'choice="multiple"><Choice value="tech"/><Choice value="sports"/></Choices></View>'
)


def _topics(region_id: str, *values: str) -> dict:
    return _choice(region_id, "") | {"from_name": "topic", "value": {"choices": list(values)}}


@pytest.mark.parametrize("fmt", ["JSON", "JSON_MIN", "CSV", "TSV"])
def test_label_studio_multi_label_in_every_export_type(run, owner, tmp_path, fmt):
    # The converter writes one chosen label as a bare string, several as {"choices": [...]}.
    project = project_factory(owner, task_type=TaskType.MULTI_LABEL, labels=["tech", "sports"])
    tasks = [
        _task(1, {"text": TEXTS[0]}, [_annotation(5, 1, [_topics("t1", "tech")])], []),
        _task(2, {"text": TEXTS[2]}, [_annotation(6, 2, [_topics("t2", "tech", "sports")])], []),
        _task(3, {"text": TEXTS[3]}, [], []),
    ]
    content = orjson.dumps(tasks) if fmt == "JSON" else converted(tasks, TOPICS, fmt, tmp_path)
    extension = {"JSON": "json", "JSON_MIN": "json", "CSV": "csv", "TSV": "tsv"}[fmt]
    job = run(project, f"x.{extension}", content)
    assert job.status == "done", job.errors
    assert [
        (t.data, [p["result"] for p in t.predictions or []]) for t in project.tasks.order_by("id")
    ] == [
        ({"text": TEXTS[0]}, [{"labels": ["tech"]}]),
        ({"text": TEXTS[2]}, [{"labels": ["tech", "sports"]}]),
        ({"text": TEXTS[3]}, []),
    ]


def ner_export() -> list[dict]:
    text = TEXTS[0]
    other = TEXTS[2]
    return [
        _task(
            1,
            {"text": text},
            [_annotation(5, 1, [_span("s1", text, 0, 6, "PER"), _span("s2", text, 12, 15, "PER")])],
            [_prediction(9, 1, [_span("s3", text, 18, 23, "LOC")])],
        ),
        _task(
            2,
            {"text": other},
            [
                _annotation(
                    6,
                    2,
                    [
                        _span("s4", other, 0, 2, "LOC"),
                        _span("s5", other, 3, 5, "PER"),
                        # A relation between two regions has no value: it is left out.
                        {"from_id": "s5", "to_id": "s4", "type": "relation", "direction": "right"},
                    ],
                )
            ],
            [],
        ),
    ]


def boxes_export() -> list[dict]:
    return [
        _task(
            1,
            {"image": "https://example.org/photos/chat%20noir.jpg"},
            [
                _annotation(
                    5, 1, [_box("b1", 10, 20, 25, 50, "cat"), _box("b2", 50, 50, 10, 10, "dog")]
                )
            ],
            [4],
        ),
    ]


@pytest.mark.parametrize("fmt", ["JSON", "JSON_MIN", "CSV", "TSV"])
def test_label_studio_spans_in_every_export_type(run, owner, tmp_path, fmt):
    project = project_factory(owner, task_type=TaskType.TEXT_SPANS, labels=["PER", "LOC"])
    tasks = ner_export()
    content = orjson.dumps(tasks) if fmt == "JSON" else converted(tasks, NER, fmt, tmp_path)
    job = run(
        project, "x." + ("tsv" if fmt == "TSV" else "csv" if fmt == "CSV" else "json"), content
    )
    assert job.status == "done", job.errors
    first, second = project.tasks.order_by("id")
    spans = [p["result"]["spans"] for p in first.predictions if p["model"].startswith("annotation")]
    assert spans == [
        [{"start": 0, "end": 6, "label": "PER"}, {"start": 12, "end": 15, "label": "PER"}]
    ]
    assert second.predictions[-1]["result"] == {
        "spans": [{"start": 0, "end": 2, "label": "LOC"}, {"start": 3, "end": 5, "label": "PER"}]
    }
    assert first.data == {"text": TEXTS[0]}


@pytest.mark.parametrize("fmt", ["JSON", "JSON_MIN", "CSV", "TSV"])
def test_label_studio_boxes_keep_the_image_size(run, owner, tmp_path, fmt):
    project = project_factory(owner, task_type=TaskType.IMAGE_BOXES, labels=["cat", "dog"])
    tasks = boxes_export()
    content = orjson.dumps(tasks) if fmt == "JSON" else converted(tasks, BOXES, fmt, tmp_path)
    job = run(
        project, "x." + ("tsv" if fmt == "TSV" else "csv" if fmt == "CSV" else "json"), content
    )
    assert job.status == "done", job.errors
    task = project.tasks.get()
    assert task.data == {
        "image": "https://example.org/photos/chat%20noir.jpg",
        "width": 640,
        "height": 480,
    }
    assert task.predictions == [
        {
            "result": {
                "boxes": [
                    {"x": 64.0, "y": 96.0, "w": 160.0, "h": 240.0, "label": "cat"},
                    {"x": 320.0, "y": 240.0, "w": 64.0, "h": 48.0, "label": "dog"},
                ]
            },
            "model": "annotation:label-studio-user-3" if fmt == "JSON" else "annotation",
        }
    ]


def test_label_studio_tasks_apart_in_a_flat_export_are_a_duplicate(run, owner, tmp_path):
    project = project_factory(owner, labels=["pos", "neg"])
    rows = orjson.loads(
        converted(sentiment_export(full_predictions=False), SENTIMENT, "JSON_MIN", tmp_path)
    )
    rows.append(rows[0])
    job = run(project, "a.json", orjson.dumps(rows))
    assert job.status == "failed"
    assert [e["message"] for e in job.errors] == ["the id “11” appears more than once in this file"]
    assert project.tasks.count() == 0


def test_tsv_and_csv_read_the_same(run, owner):
    project = project_factory(owner)
    rows = [["id", "text"], ["a", "x,\ty"], ["b", "plain"]]
    for delimiter, name in ((",", "t.csv"), ("\t", "t.tsv")):
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter).writerows(rows)
        job = run(project, name, buffer.getvalue().encode())
        assert job.status == "done", job.errors
        assert [t.data["text"] for t in project.tasks.order_by("id")] == ["x,\ty", "plain"]
        project.tasks.all().delete()


# --- Label Studio media ---------------------------------------------------------------------
def png(size=(8, 6)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, "PNG")
    return out.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _references() -> bytes:
    return orjson.dumps(
        [
            _task(1, {"image": "/data/upload/7/3f2a1b0c-chat noir.png"}, [], []),
            _task(2, {"image": "/data/local-files/?d=photos%2Fchien.png"}, [], []),
            _task(3, {"image": "https://example.org/z.png"}, [], []),
        ]
    )


def test_label_studio_media_resolve_from_a_zip_uploaded_alongside(run, owner, client):
    project = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
    media = make_zip(
        {"media/upload/7/3f2a1b0c-chat noir.png": png((40, 30)), "photos/chien.png": png()}
    )
    job = run(
        project,
        "export.json",
        _references(),
        fmt="label_studio",
        media=SimpleUploadedFile("media.zip", media),
    )
    assert job.status == "done", job.errors
    first, second, third = project.tasks.order_by("id")
    assert first.data["image"].startswith(f"/media-protected/{project.pk}/")
    assert (first.data["width"], first.data["height"], first.data["name"]) == (
        40,
        30,
        "3f2a1b0c-chat noir.png",
    )
    assert (second.data["width"], second.data["height"]) == (8, 6)
    assert third.data == {"image": "https://example.org/z.png"}
    client.force_login(owner)
    response = client.get(first.data["image"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == png((40, 30))


def test_label_studio_media_resolve_against_a_base_url(run, owner):
    project = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
    job = run(
        project,
        "export.json",
        _references(),
        fmt="label_studio",
        media_base_url="https://cdn.example.org/ls-media/",
    )
    assert job.status == "done", job.errors
    assert [t.data["image"] for t in project.tasks.order_by("id")] == [
        "https://cdn.example.org/ls-media/upload/7/3f2a1b0c-chat%20noir.png",
        "https://cdn.example.org/ls-media/photos/chien.png",
        "https://example.org/z.png",
    ]


def test_unresolvable_media_are_listed_by_line_and_nothing_is_kept(run, owner):
    project = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
    content = b"[\n" + b",\n".join(orjson.dumps(t) for t in orjson.loads(_references())) + b"\n]"
    job = run(project, "export.json", content, fmt="label_studio")
    assert job.status == "failed"
    assert [e["line"] for e in job.errors] == [2, 3]
    assert "upload the media as a zip" in job.errors[0]["message"]
    # With a zip that lacks one of them: that one is named, and no image is left stored.
    before = _stored(f"imports/{project.pk}")
    job = run(
        project,
        "export.json",
        content,
        fmt="label_studio",
        media=SimpleUploadedFile("media.zip", make_zip({"chat noir.png": png()})),
    )
    assert [(e["line"], e["message"]) for e in job.errors] == [
        (3, "'/data/local-files/?d=photos%2Fchien.png' is not in the media zip")
    ]
    assert project.tasks.count() == 0
    assert _stored(f"imports/{project.pk}") == before


def _stored(folder: str) -> list[str]:
    if not default_storage.exists(folder):
        return []
    dirs, files = default_storage.listdir(folder)
    return files + [f for d in dirs for f in _stored(f"{folder}/{d}")]


def test_a_media_zip_that_is_not_a_zip_is_refused(run, owner):
    project = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
    job = run(
        project,
        "export.json",
        _references(),
        fmt="label_studio",
        media=SimpleUploadedFile("media.zip", b"not a zip"),
    )
    assert [e["message"] for e in job.errors] == ["the media file is not a zip"]


# --- image size, first read -------------------------------------------------------------------
def test_the_image_size_the_annotator_read_is_kept_when_the_data_lacks_it(owner, client_for):
    from labeling.dispatch import assignment_next
    from labeling.services import project_publish, tasks_create

    project = project_factory(owner, task_type=TaskType.IMAGE_BOXES, labels=["cat"])
    tasks_create(
        project=project,
        rows=[
            {"data": {"image": "https://example.org/a.png"}},
            {"data": {"image": "https://example.org/b.png", "width": 10, "height": 20}},
        ],
    )
    project = project_publish(project=project)
    person = make_annotator()
    api = client_for(person)
    for _ in range(2):
        assignment = assignment_next(annotator=person, project=project)
        response = api.post(
            f"/api/assignments/{assignment.pk}/submit/",
            {
                "result": {"boxes": [{"x": 1, "y": 1, "w": 2, "h": 2, "label": "cat"}]},
                "image_size": {"width": 640, "height": 480},
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
    first, second = project.tasks.order_by("id")
    assert first.data == {"image": "https://example.org/a.png", "width": 640, "height": 480}
    assert second.data == {"image": "https://example.org/b.png", "width": 10, "height": 20}


def make_annotator():
    from tests.factories import user_factory

    return user_factory("annotator")


# --- images for API clients -------------------------------------------------------------------
def test_images_are_fetched_with_an_api_token_by_who_may_see_them(run, owner, auditor):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from labeling.dispatch import assignment_next
    from labeling.services import project_publish

    project = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
    run(project, "pics.zip", make_zip({"a.png": png()}))
    project = project_publish(project=project)
    url = project.tasks.get().data["image"]
    holder, other = make_annotator(), make_annotator()
    assignment_next(annotator=holder, project=project)

    def fetch(user):
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        return client.get(url)

    for user in (owner, auditor, holder):
        response = fetch(user)
        assert response.status_code == 200, user
        assert b"".join(response.streaming_content) == png()
    assert fetch(other).status_code == 404
    assert fetch(None).status_code == 302  # no token: the log-in page
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert bad.get(url).status_code == 401


# --- out to training code -----------------------------------------------------------------------
def _labeled(task_type: str, rows: list[dict], results: list[dict | None], labels: list[str]):
    """A published project of `rows`, task n annotated with results[n] (None: left alone)."""
    from labeling.dispatch import annotation_submit, assignment_next
    from labeling.services import project_publish, tasks_create

    project = project_factory(task_type=task_type, labels=labels)
    tasks_create(project=project, rows=rows)
    project = project_publish(project=project)
    by_task = dict(
        zip(project.tasks.order_by("id").values_list("id", flat=True), results, strict=True)
    )
    person = make_annotator()
    while (assignment := assignment_next(annotator=person, project=project)) is not None:
        result = by_task[assignment.task_id]
        if result is None:
            from labeling.dispatch import assignment_skip

            assignment_skip(annotator=person, assignment_id=assignment.pk)
            continue
        annotation_submit(annotator=person, assignment_id=assignment.pk, result=result)
    return project


def _export(project, fmt: str, tmp_path: Path) -> Path:
    from labeling.exporting.services import export_to_path

    path = tmp_path / f"out.{fmt}"
    export_to_path(project=project, fmt=fmt, path=path)
    return path


IMAGE_ROWS = [
    {
        "data": {
            "image": "https://example.org/img/chat%20noir%20%C3%A9t%C3%A9.png",
            "width": 640,
            "height": 480,
        }
    },
    {"data": {"image": "https://example.org/img/2.png?sig=abc", "width": 320, "height": 200}},
]


def test_coco_loads_in_pycocotools_with_masks(tmp_path):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    project = _labeled(
        TaskType.IMAGE_BOXES,
        IMAGE_ROWS,
        [
            {"boxes": [{"x": 64, "y": 48, "w": 320, "h": 240, "label": "cat"}]},
            {"boxes": [{"x": 10.5, "y": 20, "w": 30, "h": 40.25, "label": "dog"}]},
        ],
        ["cat", "dog"],
    )
    path = _export(project, "coco", tmp_path)
    coco = COCO(str(path))
    images = coco.loadImgs(coco.getImgIds())
    assert [(i["file_name"], i["width"], i["height"]) for i in images] == [
        ("chat noir été.png", 640, 480),
        ("2.png", 320, 200),
    ]
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cat", "dog"]
    anns = coco.loadAnns(coco.getAnnIds())
    assert [(a["bbox"], a["area"], a["iscrowd"]) for a in anns] == [
        ([64, 48, 320, 240], 320 * 240, 0),
        ([10.5, 20, 30, 40.25], 30 * 40.25, 0),
    ]
    first = coco.annToMask(anns[0])
    assert first.shape == (480, 640)
    assert first.sum() == 320 * 240
    assert first[48, 64] == 1 and first[47, 64] == 0 and first[48 + 239, 64 + 319] == 1
    rle = coco.annToRLE(anns[1])
    assert abs(float(mask_utils.area(rle)) - 30 * 40.25) <= 30 + 40.25
    assert coco.getAnnIds(imgIds=[images[0]["id"]], catIds=coco.getCatIds(catNms=["cat"]))


def test_zip_images_keep_their_original_name_in_coco(run, owner, tmp_path):
    import json

    project = project_factory(owner, task_type=TaskType.IMAGE_BOXES, labels=["cat"])
    run(project, "pics.zip", make_zip({"été/chat noir.png": png()}))
    coco = json.loads(_export(project, "coco", tmp_path).read_text())
    assert [(i["file_name"], i["width"], i["height"]) for i in coco["images"]] == [
        ("été/chat noir.png", 8, 6)
    ]


def test_label_studio_export_never_puts_pixels_in_percent_fields(tmp_path):
    from labeling.exporting.formats import ImageSizeUnknown

    project = _labeled(
        TaskType.IMAGE_BOXES,
        [{"data": {"image": "https://example.org/a.png"}}],
        [{"boxes": [{"x": 64, "y": 48, "w": 320, "h": 240, "label": "cat"}]}],
        ["cat"],
    )
    with pytest.raises(ImageSizeUnknown, match="pixel size is unknown"):
        _export(project, "label_studio", tmp_path)


def test_label_studio_export_reads_in_label_studio_sdk(tmp_path):
    """Fairlabel's Label Studio export through Label Studio's own converter: JSON_MIN and COCO
    see the same boxes, in percent with the original size, as Fairlabel's pixels."""
    from label_studio_sdk.converter import Converter

    project = _labeled(
        TaskType.IMAGE_BOXES,
        IMAGE_ROWS,
        [{"boxes": [{"x": 64, "y": 48, "w": 320, "h": 240, "label": "cat"}]}, None],
        ["cat", "dog"],
    )
    path = _export(project, "label_studio", tmp_path)
    converter = Converter(config=BOXES, project_dir=str(tmp_path), download_resources=False)
    converter.convert(str(path), str(tmp_path / "min"), "JSON_MIN", is_dir=False)
    rows = orjson.loads((tmp_path / "min" / "result.json").read_bytes())
    box = next(r for r in rows if r.get("label"))["label"][0]
    assert (box["x"], box["y"], box["width"], box["height"]) == (10.0, 10.0, 50.0, 50.0)
    assert (box["original_width"], box["original_height"]) == (640, 480)
    converter.convert(str(path), str(tmp_path / "coco"), "COCO", is_dir=False)
    coco = orjson.loads((tmp_path / "coco" / "result.json").read_bytes())
    assert [round(v, 6) for v in coco["annotations"][0]["bbox"]] == [64, 48, 320, 240]


def test_label_studio_spans_export_reads_in_label_studio_sdk(tmp_path):
    from label_studio_sdk.converter import Converter

    text = TEXTS[1]
    start = text.index("thé")
    project = _labeled(
        TaskType.TEXT_SPANS,
        [{"data": {"text": text}}],
        [
            {
                "spans": [
                    {"start": 0, "end": len(DECOMPOSED), "label": "PER"},
                    {"start": start, "end": start + 3, "label": "LOC"},
                ]
            }
        ],
        ["PER", "LOC"],
    )
    path = _export(project, "label_studio", tmp_path)
    Converter(config=NER, project_dir=str(tmp_path), download_resources=False).convert(
        str(path), str(tmp_path / "min"), "JSON_MIN", is_dir=False
    )
    rows = orjson.loads((tmp_path / "min" / "result.json").read_bytes())
    assert [(s["start"], s["end"], s["text"], s["labels"]) for s in rows[0]["label"]] == [
        (0, len(DECOMPOSED), DECOMPOSED, ["PER"]),
        (start, start + 3, "thé", ["LOC"]),
    ]


# --- CSV ------------------------------------------------------------------------------------
CSV_ROWS = [
    {"id": "-5", "data": {"text": "-5", "n": -5, "score": 1.5, "flag": True, "none": None}},
    {"id": "=1+1", "data": {"text": '=HYPERLINK("http://x")', "tags": ["a", "b"], "n": 3}},
    {"id": "é", "data": {"text": TEXTS[1], "extra": {"k": "v"}}, "categories": []},
    {"data": {"text": TEXTS[2] + "\n" + TEXTS[0], "n": "007"}},
    {"data": {"text": "'=already quoted", "n": "'-5"}},
]


CSV_RESULTS = [{"label": "pos"}, None, None, None, None]


def test_csv_reads_in_pandas_with_numbers_as_numbers(tmp_path):
    import pandas

    project = _labeled(TaskType.TEXT_CLASSIFICATION, CSV_ROWS, CSV_RESULTS, ["pos", "neg"])
    frame = pandas.read_csv(_export(project, "csv", tmp_path), keep_default_na=False)
    assert list(frame["external_id"]) == ["-5", "'=1+1", "é", "", ""]
    assert list(frame["text"]) == [
        "-5",
        '\'=HYPERLINK("http://x")',
        TEXTS[1],
        TEXTS[2] + "\n" + TEXTS[0],
        "''=already quoted",
    ]
    assert str(frame["n"][0]) == "-5"  # a number, not the text '-5
    assert list(frame["label:pos"]) == [1, 0, 0, 0, 0]


def test_a_fairlabel_csv_reimports_to_the_same_ids_and_data(tmp_path):
    from django.core.management import call_command

    source = _labeled(TaskType.TEXT_CLASSIFICATION, CSV_ROWS, CSV_RESULTS, ["pos", "neg"])
    path = _export(source, "csv", tmp_path)
    target = project_factory(task_type=TaskType.TEXT_CLASSIFICATION, labels=["pos", "neg"])
    call_command("import_tasks", str(target.pk), str(path), format="csv")

    def tasks(project):
        return [(t.external_id, t.data, t.categories) for t in project.tasks.order_by("id")]

    assert tasks(target) == tasks(source)
    assert [p["result"] for t in target.tasks.order_by("id") for p in t.predictions or []] == [
        {"label": "pos"}
    ]


# --- CoNLL 2003 ---------------------------------------------------------------------------
def _spans_back(text: str, lines: list[str]) -> list[dict]:
    """Character offsets from a CoNLL document: each token found in the text in order."""
    spans, cursor = [], 0
    for line in lines:
        token, _pos, _chunk, tag = line.split(" ")
        start = text.index(token, cursor)
        cursor = start + len(token)
        if tag.startswith("B-"):
            spans.append({"start": start, "end": cursor, "label": tag[2:]})
        elif tag.startswith("I-"):
            spans[-1]["end"] = cursor
    return spans


NER_CASES = [
    # A name with a decomposed accent, an emoji sequence, a tab and runs of spaces.
    (
        TEXTS[1],
        [(0, len(DECOMPOSED), "PER"), (TEXTS[1].index("thé"), TEXTS[1].index("thé") + 3, "LOC")],
    ),
    # Japanese has no spaces: 東京 and 山田 are whole tokens however the text is cut.
    (TEXTS[2], [(0, 2, "LOC"), (3, 5, "PER")]),
    # A span ending inside what would be one word, a flag emoji, an adjacent span.
    ("AdaLovelace vit à Paris🇫🇷 demain", [(0, 3, "PER"), (3, 11, "PER"), (18, 23, "LOC")]),
]


def test_conll2003_tokens_align_with_spans_and_round_trip(tmp_path):
    from seqeval.metrics.sequence_labeling import get_entities

    rows = [{"data": {"text": text}} for text, _spans in NER_CASES]
    results = [
        {"spans": [{"start": s, "end": e, "label": lab} for s, e, lab in spans]}
        for _text, spans in NER_CASES
    ]
    project = _labeled(TaskType.TEXT_SPANS, rows, results, ["PER", "LOC"])
    content = _export(project, "conll2003", tmp_path).read_text(encoding="utf-8")
    documents = [d for d in content.split("-DOCSTART- -X- -X- O\n\n") if d]
    assert len(documents) == len(NER_CASES)
    for (text, spans), document in zip(NER_CASES, documents, strict=True):
        lines = [line for line in document.split("\n") if line]
        assert all(len(line.split(" ")) == 4 for line in lines)
        tokens = [line.split(" ")[0] for line in lines]
        tags = [line.split(" ")[3] for line in lines]
        # Every span is whole tokens: seqeval reads the same entities back.
        found = [(label, tokens[a : b + 1]) for label, a, b in get_entities(tags)]
        assert [label for label, _ in found] == [lab for _s, _e, lab in spans]
        assert _spans_back(text, lines) == [
            {"start": s, "end": e, "label": lab} for s, e, lab in spans
        ]
        # Combining marks and joiners stay inside their token; no token holds white space.
        assert all(not unicodedata.category(t[0]).startswith("M") for t in tokens)
        assert all(not any(c.isspace() for c in t) for t in tokens)
    assert "👩🏽\u200d💻 -X- _ O" in content
    assert f"{DECOMPOSED} -X- _ B-PER" in content


# --- JSON / JSONL row shape -----------------------------------------------------------------
ROW_KEYS = {"id", "external_id", "data", "annotations", "categories", "majority"}
ANNOTATION_KEYS = {"id", "annotator", "result", "seconds", "created_at", "is_extra"}


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_every_key_a_json_row_can_hold_is_in_the_readme(tmp_path, fmt):
    from labeling.exporting.services import export_to_path

    project = _labeled(
        TaskType.TEXT_CLASSIFICATION,
        [{"data": {"text": "a"}, "categories": []}, {"data": {"text": "b"}, "id": "x"}],
        [{"label": "pos"}, None],
        ["pos", "neg"],
    )
    path = tmp_path / f"out.{fmt}"
    export_to_path(project=project, fmt=fmt, path=path, majority=True)
    raw = path.read_bytes()
    rows = orjson.loads(raw) if fmt == "json" else [orjson.loads(x) for x in raw.splitlines()]
    assert set().union(*(r.keys() for r in rows)) == ROW_KEYS
    assert {k for r in rows for a in r["annotations"] for k in a} == ANNOTATION_KEYS
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    shape = next(line for line in readme.splitlines() if line.startswith("| `json`, `jsonl` |"))
    for key in ROW_KEYS | ANNOTATION_KEYS:
        assert f'"{key}"' in shape, key


def test_the_import_command_takes_the_media_zip_and_the_base_url(owner, tmp_path):
    from django.core.management import CommandError, call_command

    project = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
    tasks = tmp_path / "export.json"
    tasks.write_bytes(_references())
    media = tmp_path / "media.zip"
    media.write_bytes(make_zip({"3f2a1b0c-chat noir.png": png()}))
    with pytest.raises(CommandError, match="1 problem"):
        call_command(
            "import_tasks", str(project.pk), str(tasks), format="label_studio", media=str(media)
        )
    call_command(
        "import_tasks",
        str(project.pk),
        str(tasks),
        format="label_studio",
        media=str(media),
        media_base_url="https://cdn.example.org/",
    )
    first, second, _third = project.tasks.order_by("id")
    assert first.data["image"].startswith("/media-protected/")
    assert second.data["image"] == "https://cdn.example.org/photos/chien.png"
    with pytest.raises(CommandError, match="http"):
        call_command("import_tasks", str(project.pk), str(tasks), media_base_url="ftp://x")


def test_a_json_min_export_imports_as_label_studio_too(run, owner, tmp_path):
    project = project_factory(owner, labels=["pos", "neg"])
    content = converted(sentiment_export(full_predictions=False), SENTIMENT, "JSON_MIN", tmp_path)
    job = run(project, "a.json", content, fmt="label_studio")
    assert job.status == "done", job.errors
    assert [t.external_id for t in project.tasks.order_by("id")] == ["11", "12", "13", "14"]
