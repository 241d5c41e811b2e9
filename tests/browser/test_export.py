"""As an owner would: open a labeled project, export it in a format that fits its task type,
wait for the job, download the file and the zip, and find the labels inside."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest

from labeling.models import TaskType
from tests.browser.conftest import axe_violations, login
from tests.factories import user_factory
from tests.labeling.test_export_support import labeled_project

pytestmark = pytest.mark.django_db(transaction=True)


def _check_json(content: bytes) -> None:
    rows = json.loads(content)
    assert len(rows) == 2 and rows[0]["external_id"] == "ext-0"
    assert [a["result"] for a in rows[0]["annotations"]] == [
        {"label": "pos"},
        {"label": "pos"},
        {"label": "neg"},
    ]
    assert rows[0]["majority"] == {"label": "pos", "agreement": 0.6667}


def _check_jsonl(content: bytes) -> None:
    rows = [json.loads(line) for line in content.decode().splitlines()]
    assert len(rows) == 2
    assert rows[0]["annotations"][0]["result"] == {"labels": ["sports", "tech"]}
    assert rows[0]["annotations"][0]["annotator"].startswith("anno-")


def _check_conll(content: bytes) -> None:
    text = content.decode()
    assert text.startswith("-DOCSTART- -X- -X- O\n\n")
    assert "Ada -X- _ B-PER\nLovelace -X- _ I-PER\n" in text
    assert "London -X- _ B-LOC" in text


def _check_csv(content: bytes) -> None:
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert len(rows) == 2 and rows[0]["image"] == "https://example.org/img/0.png"
    assert (rows[0]["label:cat"], rows[0]["label:dog"]) == ("2", "1")


def _check_coco(content: bytes) -> None:
    coco = json.loads(content)
    assert [c["name"] for c in coco["categories"]] == ["cat", "dog"]
    assert len(coco["images"]) == 2 and len(coco["annotations"]) == 10
    assert coco["annotations"][0]["bbox"] == [64, 48, 320, 240]


CASES = [
    (TaskType.TEXT_CLASSIFICATION, "json", "JSON", _check_json, True),
    (TaskType.MULTI_LABEL, "jsonl", "JSON Lines", _check_jsonl, False),
    (TaskType.TEXT_SPANS, "conll2003", "CoNLL 2003", _check_conll, False),
    (TaskType.IMAGE_CLASSIFICATION, "csv", "CSV", _check_csv, False),
    (TaskType.IMAGE_BOXES, "coco", "COCO", _check_coco, False),
]


def test_owner_exports_one_format_per_task_type_and_downloads_it(page):
    owner = user_factory("owner")
    login(page, owner.username)
    for task_type, fmt, label, check, majority in CASES:
        project = labeled_project(task_type, owner=owner, tasks=2)
        page.goto(f"/projects/{project.pk}/")
        exports = page.get_by_role("region", name="Export labels")
        select = exports.get_by_label("Export format")
        select.wait_for()  # the panel arrives by htmx once the page has loaded
        options = select.locator("option").all_inner_texts()
        assert label in options
        assert ("COCO" in options) == (task_type == TaskType.IMAGE_BOXES)
        assert ("CoNLL 2003" in options) == (task_type == TaskType.TEXT_SPANS)
        select.select_option(fmt)
        if majority:
            exports.get_by_label("Add the majority label and its agreement").check()
        exports.get_by_role("button", name="Export", exact=True).click()
        jobs = exports.get_by_test_id("export-jobs")
        jobs.get_by_test_id("export-status").first.filter(has_text="Done").wait_for()
        with page.expect_download() as info:
            jobs.get_by_role("link", name="File").first.click()
        download = info.value
        assert download.suggested_filename.endswith(
            {
                "json": ".json",
                "jsonl": ".jsonl",
                "conll2003": ".conll",
                "csv": ".csv",
                "coco": ".json",
            }[fmt]
        )
        check(Path(download.path()).read_bytes())

        if fmt == "coco":
            with page.expect_download() as info:
                jobs.get_by_role("link", name="Zip of both").first.click()
            with zipfile.ZipFile(info.value.path()) as archive:
                names = archive.namelist()
                record = json.loads(archive.read(names[1]))
            assert names[0].endswith(".json") and names[1].endswith(".provenance.json")
            assert names[2] == "README.txt"
            assert record["annotators"] == 3 and record["breaks"]["due_total"] == 0
            assert axe_violations(page) == []
