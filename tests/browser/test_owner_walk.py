"""Issue 3 as an owner would try it in Chromium: a project of each task type made through the
form, a file in each import format, a bad file's errors, and every export format downloaded."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image
from playwright.sync_api import expect

from labeling.models import Project
from tests.browser.conftest import login
from tests.factories import user_factory

pytestmark = pytest.mark.django_db(transaction=True)


def _png(color: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "PNG")
    return buffer.getvalue()


def _files(folder) -> dict[str, str]:
    files = {
        "ls.json": json.dumps(
            [
                {
                    "id": 7,
                    "data": {"text": "Great film"},
                    "predictions": [
                        {
                            "result": [
                                {
                                    "from_name": "label",
                                    "to_name": "text",
                                    "type": "choices",
                                    "value": {"choices": ["pos"]},
                                }
                            ]
                        }
                    ],
                }
            ]
        ),
        "t.csv": "id,text\nc1,Sports and politics today\nc2,New phone released\n",
        "t.json": json.dumps([{"text": "Ada met Bob in Paris."}, {"text": "Cleo is in Rome."}]),
        "t.jsonl": '{"text": "Tech news"}\n{"text": "Vote counts", "categories": []}\n',
        "bad.jsonl": '{"text": "ok"}\n{"txt": "no text"}\nnot json\n',
    }
    paths = {}
    for name, body in files.items():
        (folder / name).write_text(body)
        paths[name] = str(folder / name)
    with zipfile.ZipFile(folder / "images.zip", "w") as archive:
        for n, color in enumerate(["red", "green", "blue"]):
            archive.writestr(f"img{n}.png", _png(color))
    paths["images.zip"] = str(folder / "images.zip")
    return paths


EXPORT_NAMES = {
    "json": "JSON",
    "jsonl": "JSON Lines",
    "csv": "CSV",
    "label_studio": "Label Studio",
    "conll2003": "CoNLL 2003",
    "coco": "COCO",
}

# task type, labels, file, import format ("" = detect), tasks expected, export formats
PLAN = [
    (
        "text_classification",
        "pos\nneg",
        "ls.json",
        "label_studio",
        1,
        ["json", "jsonl", "csv", "label_studio"],
    ),
    ("multi_label", "sports\npolitics\ntech", "t.csv", "", 2, ["jsonl", "csv"]),
    ("text_spans", "PER\nLOC", "t.json", "", 2, ["conll2003", "label_studio"]),
    ("image_classification", "red\ngreen\nblue", "images.zip", "", 3, ["json", "csv"]),
    ("image_boxes", "thing", "images.zip", "", 3, ["coco", "label_studio"]),
]


def test_owner_builds_a_project_of_each_type_imports_each_format_and_exports_each(page, tmp_path):
    owner = user_factory("owner")
    files = _files(tmp_path)
    login(page, owner.username)
    for task_type, labels, name, fmt, expected, exports in PLAN:
        page.goto("/projects/new/")
        page.get_by_label("Title").fill(f"Walk {task_type}")
        page.get_by_label("Task type").select_option(task_type)
        page.get_by_label("Labels").fill(labels)
        page.get_by_label("Price per task").fill("0.10")
        page.get_by_label("Estimated seconds per task").fill("20")
        page.get_by_role("button", name="Save").click()
        page.wait_for_url("**/projects/*/")
        project = Project.objects.get(title=f"Walk {task_type}")
        assert project.task_type == task_type
        if fmt:
            page.locator("#import-format").select_option(fmt)
        page.set_input_files("[data-testid=imports] input[type=file]", files[name])
        page.locator("[data-testid=imports] button[type=submit]").click()
        page.get_by_text(f"Imported {expected} task").wait_for()
        assert project.tasks.count() == expected
        for export in exports:
            jobs = page.locator("#exports-panel tbody tr")
            before = jobs.count()
            page.locator("#export-format").select_option(export)
            page.get_by_role("button", name="Export", exact=True).click()
            expect(jobs).to_have_count(before + 1)  # the new job's row, not the last one's
            newest = jobs.first
            expect(newest).to_contain_text(EXPORT_NAMES[export])
            link = newest.get_by_role("link", name="File")
            link.wait_for()
            with page.expect_download() as download:
                link.click()
            body = open(download.value.path(), "rb").read()
            # CoNLL lists labeled documents only: nobody has labeled these yet.
            assert body or export == "conll2003", (task_type, export)
            if export == "coco":
                assert len(json.loads(body)["images"]) == expected
            if export == "jsonl":
                assert len(body.splitlines()) == expected

    page.locator("#import-format").select_option("auto")
    page.set_input_files("[data-testid=imports] input[type=file]", files["bad.jsonl"])
    page.locator("[data-testid=imports] button[type=submit]").click()
    page.get_by_text("Nothing was imported").wait_for()
    text = page.inner_text("[data-testid=imports]")
    assert "line 2" in text and "the field “image” is missing" in text
    assert "line 3" in text and "not valid JSON" in text
