"""The labeling page in Chromium: every task type, by keyboard where possible (mouse for boxes),
then the stored results are checked in the database."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from labeling.models import Annotation, Assignment, TaskType
from labeling.services import project_publish, tasks_create
from tests.browser.conftest import axe_violations, login
from tests.factories import project_factory, user_factory

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = "/static/test/shapes-400x300.png"  # 400 by 300 px


@pytest.fixture(autouse=True)
def _only_the_page_rules(settings):
    # These tests are about the page; the working-time, exposure and budget rules have their
    # own tests. Pin the gates and hooks so that the page sees a plain, open project.
    settings.FAIRLABEL_DISPATCH_GATES = ["labeling.policies.project_open_gate"]
    settings.FAIRLABEL_ASSIGNMENT_HOOKS = []


def _project(task_type, rows, **fields):
    project = project_factory(task_type=task_type, **fields)
    tasks_create(project=project, rows=rows)
    return project_publish(project=project)


def _open(page, project):
    annotator = user_factory("annotator")
    login(page, annotator.username)
    page.goto(f"/label/{project.pk}/")
    page.wait_for_selector("#task-view[data-task-id], [data-testid=start]")
    if project.instructions.strip() and page.get_by_test_id("start").is_visible():
        # The first time in a project with instructions: read them, then start.
        page.get_by_role("button", name="Start labeling").click()
    _wait_task(page)
    return annotator


def _wait_task(page, previous=None):
    if previous is None:
        page.wait_for_selector("#task-view[data-task-id]")
    else:
        page.wait_for_function(
            "prev => document.getElementById('task-view').dataset.taskId !== prev", arg=previous
        )
    page.wait_for_function(  # a function, not an expression: the CSP forbids eval()
        "() => document.getElementById('labeler').getAttribute('aria-busy') === 'false'"
    )
    return page.locator("#task-view").get_attribute("data-task-id")


def _screenshot(page, name):
    """FAIRLABEL_SCREENSHOT_DIR=/tmp keeps a picture of the page, to look at its layout."""
    folder = os.environ.get("FAIRLABEL_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def _results(annotator):
    return [a.result for a in Annotation.objects.filter(annotator=annotator).order_by("task_id")]


def _submit(page, task_id):
    page.keyboard.press("Enter")
    return _wait_task(page, task_id)


def _expect_done(page):
    page.get_by_test_id("done").wait_for()
    assert "Nothing left in this project — thank you" in page.get_by_test_id("done").inner_text()
    assert page.get_by_role("link", name="Back to your projects").is_visible()


def test_text_classification_by_keyboard_with_undo(page):
    project = _project(
        TaskType.TEXT_CLASSIFICATION,
        [{"data": {"text": f"Review {n}"}} for n in range(2)],
        instructions="Is the review **positive**?",
    )
    annotator = _open(page, project)
    page.evaluate("window.samePage = true")  # gone if the page reloads
    assert page.get_by_text("Instructions").is_visible()
    first = page.locator("#task-view").get_attribute("data-task-id")
    page.keyboard.press("2")
    assert page.get_by_role("button", name="neg").get_attribute("aria-pressed") == "true"
    second = _submit(page, first)
    expect(page.get_by_test_id("status")).to_have_text("Saved")
    expect(page.get_by_test_id("today")).to_contain_text("Today: 1 tasks")
    page.keyboard.press("1")
    page.keyboard.press("z")  # undo: nothing picked again
    assert page.get_by_role("button", name="pos").get_attribute("aria-pressed") == "false"
    page.keyboard.press("Enter")  # refused on the page: no label yet
    expect(page.get_by_test_id("status")).to_have_text("Pick a label first")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    _expect_done(page)
    expect(page.get_by_test_id("today")).to_contain_text("Today: 2 tasks")
    assert second != first
    assert page.evaluate("window.samePage") is True
    assert _results(annotator) == [{"label": "neg"}, {"label": "neutral"}]


BREAK_DUE = {"on": False}


def break_gate(context):
    """A stand-in for the working-time rules: refuses while BREAK_DUE is on."""
    from datetime import timedelta

    from labeling.policies import Refusal

    if BREAK_DUE["on"]:
        return Refusal(
            code="break",
            detail="A paid break is due.",
            rule="breaks",
            until=context.now + timedelta(minutes=10),
        )
    return None


def test_a_refusal_shows_its_detail_until_and_rule_and_the_page_recovers(page, settings):
    settings.FAIRLABEL_DISPATCH_GATES = [
        "labeling.policies.project_open_gate",
        f"{__name__}.break_gate",
    ]
    project = _project(
        TaskType.TEXT_CLASSIFICATION, [{"data": {"text": f"T{n}"}} for n in range(2)]
    )
    annotator = _open(page, project)
    first = page.locator("#task-view").get_attribute("data-task-id")
    BREAK_DUE["on"] = True
    try:
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        refusal = page.get_by_test_id("refusal")
        refusal.wait_for()
        assert "A paid break is due." in refusal.inner_text()
        assert "Until" in refusal.inner_text() and refusal.locator("time").count() == 1
        assert (
            refusal.get_by_role("link", name="The rule").get_attribute("href").endswith("#breaks")
        )
        expect(page.get_by_test_id("status")).to_contain_text("A paid break is due. Until")
    finally:
        BREAK_DUE["on"] = False
    page.keyboard.press("Enter")  # try again
    second = _wait_task(page, first)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    _expect_done(page)
    assert second != first
    assert _results(annotator) == [{"label": "pos"}, {"label": "neg"}]


def test_multi_label_by_keyboard_with_skip(page):
    project = _project(TaskType.MULTI_LABEL, [{"data": {"text": f"News {n}"}} for n in range(3)])
    annotator = _open(page, project)
    first = page.locator("#task-view").get_attribute("data-task-id")
    page.keyboard.press("3")
    page.keyboard.press("1")
    assert page.get_by_role("button", name="sports").get_attribute("aria-pressed") == "true"
    second = _submit(page, first)
    page.keyboard.press("s")
    third = _wait_task(page, second)
    expect(page.get_by_test_id("status")).to_have_text("Skipped")
    page.keyboard.press("2")
    page.keyboard.press("2")  # toggled off again: none of the labels applies
    page.keyboard.press("Enter")
    _expect_done(page)
    assert _results(annotator) == [{"labels": ["sports", "tech"]}, {"labels": []}]
    skipped = Assignment.objects.get(annotator=annotator, status=Assignment.Status.SKIPPED)
    assert str(skipped.task_id) == second and third != second


def test_text_spans_by_keyboard_and_by_mouse_with_a_suggestion(page):
    text = "🙂 Ada Lovelace met Charles Babbage in London."  # the emoji: code points, not UTF-16
    suggested = "Grace Hopper worked at Harvard."
    project = _project(
        TaskType.TEXT_SPANS,
        [
            {"data": {"text": text}},
            {
                "data": {"text": suggested},
                "predictions": [{"result": {"spans": [{"start": 0, "end": 12, "label": "PER"}]}}],
            },
        ],
    )
    annotator = _open(page, project)
    first = page.locator("#task-view").get_attribute("data-task-id")
    assert not page.get_by_test_id("suggestion-hint").is_visible()
    # Word cursor: → → selects "Ada", Shift+→ extends to "Lovelace"; 1 = PER.
    for key in ("ArrowRight", "ArrowRight", "Shift+ArrowRight"):
        page.keyboard.press(key)
    assert "“Ada Lovelace”" in page.get_by_test_id("selection").inner_text()
    page.keyboard.press("1")
    for key in ("ArrowRight", "ArrowRight", "Shift+ArrowRight", "1"):
        page.keyboard.press(key)  # "Charles Babbage"
    for key in ("End", "ArrowLeft", "1"):
        page.keyboard.press(key)  # "London" as PER by mistake: remove it with its button
    page.get_by_role("button", name="Remove PER “London”").click()
    for key in ("End", "ArrowLeft", "2"):
        page.keyboard.press(key)
    spans = page.get_by_test_id("span-list")
    assert spans.locator("li").count() == 3
    second = _submit(page, first)

    # The suggestion is preloaded; add "Harvard" by dragging the mouse over it.
    hint = page.get_by_test_id("suggestion-hint")
    assert hint.is_visible() and hint.inner_text() == "Suggested — accept with Enter or change"
    word = page.get_by_test_id("span-text").locator("span", has_text="Harvard").last
    box = word.bounding_box()
    page.mouse.move(box["x"] + 1, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 1, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    assert "“Harvard”" in page.get_by_test_id("selection").inner_text()
    page.keyboard.press("2")
    assert not hint.is_visible()
    page.keyboard.press("Enter")
    _expect_done(page)
    assert second != first

    def span(source, fragment, label):
        start = source.index(fragment)
        return {"start": start, "end": start + len(fragment), "label": label}

    assert _results(annotator) == [
        {
            "spans": [
                span(text, "Ada Lovelace", "PER"),
                span(text, "Charles Babbage", "PER"),
                span(text, "London", "LOC"),
            ]
        },
        {"spans": [span(suggested, "Grace Hopper", "PER"), span(suggested, "Harvard", "LOC")]},
    ]


def test_image_classification_by_keyboard_with_a_protected_image(page):
    project = _project(
        TaskType.IMAGE_CLASSIFICATION,
        [
            {"data": {"image": IMAGE}},
            {"data": {"image": IMAGE}, "categories": ["violence"]},
        ],
    )
    annotator = _open(page, project)
    first = page.locator("#task-view").get_attribute("data-task-id")
    image = page.get_by_test_id("task-image")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 400
    page.keyboard.press("2")
    second = _submit(page, first)
    image = page.get_by_test_id("task-image")
    assert "blur" in image.evaluate("img => getComputedStyle(img).filter")
    assert "grayscale(1)" in image.evaluate("img => getComputedStyle(img).filter")
    page.get_by_role("button", name="Show image").click()
    page.wait_for_function(
        "() => !getComputedStyle(document.querySelector('.task-image')).filter.includes('blur(1')"
    )
    assert page.get_by_role("button", name="Blur again").get_attribute("aria-pressed") == "true"
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    _expect_done(page)
    assert second != first
    assert _results(annotator) == [{"label": "dog"}, {"label": "cat"}]


def _drag(page, start, end):
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=6)
    page.mouse.up()


def test_image_boxes_by_mouse_move_resize_delete_zoom_and_a_suggestion(page):
    suggestion = {"boxes": [{"x": 10, "y": 20, "w": 30, "h": 40, "label": "dog"}]}
    project = _project(
        TaskType.IMAGE_BOXES,
        [
            {"data": {"image": IMAGE}},
            {"data": {"image": IMAGE}, "predictions": [{"result": suggestion}]},
        ],
    )
    annotator = _open(page, project)
    first = page.locator("#task-view").get_attribute("data-task-id")
    canvas = page.get_by_test_id("canvas")

    def screen(x, y):  # original-image pixels -> page coordinates, at the current zoom
        box = canvas.bounding_box()
        scale = box["width"] / 400
        return box["x"] + x * scale, box["y"] + y * scale

    _drag(page, screen(40, 60), screen(160, 200))  # draw a "cat" (label 1)
    _drag(page, screen(100, 130), screen(120, 150))  # move it by (+20, +20)
    _drag(page, screen(180, 220), screen(200, 240))  # resize by its se corner
    page.keyboard.press("2")  # the selected box becomes dog
    page.keyboard.press("Escape")  # deselect...
    page.keyboard.press("1")  # ...new boxes are cats
    _drag(page, screen(230, 90), screen(360, 240))  # draw a second one
    width = canvas.bounding_box()["width"]
    page.get_by_role("button", name="Zoom in").click()
    assert canvas.bounding_box()["width"] == pytest.approx(width * 1.25, abs=1)
    _drag(page, screen(10, 10), screen(50, 40))  # a third, drawn zoomed in
    assert page.get_by_test_id("box-list").locator("li").count() == 3
    page.keyboard.press("Delete")  # ...and deleted
    assert page.get_by_test_id("box-list").locator("li").count() == 2
    second = _submit(page, first)

    assert page.get_by_test_id("suggestion-hint").is_visible()
    assert page.get_by_test_id("overlay").locator(".box").count() == 1
    page.keyboard.press("Enter")
    _expect_done(page)
    assert second != first

    drawn, accepted = _results(annotator)
    assert accepted == suggestion
    expected = [
        {"x": 60, "y": 80, "w": 140, "h": 160, "label": "dog"},
        {"x": 230, "y": 90, "w": 130, "h": 150, "label": "cat"},
    ]
    assert [b["label"] for b in drawn["boxes"]] == [b["label"] for b in expected]
    for got, want in zip(drawn["boxes"], expected, strict=True):
        for key in ("x", "y", "w", "h"):
            assert got[key] == pytest.approx(want[key], abs=1), (key, got, want)
    # The page sent the size it read: box exports (COCO, Label Studio) need it.
    assert [t.data for t in project.tasks.order_by("id")] == [
        {"image": IMAGE, "width": 400, "height": 300}
    ] * 2


def test_sensitive_text_stays_hidden_until_shown(page):
    secret = "A description of a violent scene."
    project = _project(
        TaskType.TEXT_CLASSIFICATION, [{"data": {"text": secret}, "categories": ["violence"]}]
    )
    annotator = _open(page, project)
    cover = page.get_by_test_id("sensitive-cover")
    assert cover.is_visible() and "Violence" in cover.inner_text()
    assert secret not in page.locator("#task-view").inner_text()
    page.get_by_role("button", name="Show", exact=True).click()
    assert page.get_by_text(secret).is_visible()
    page.get_by_role("button", name="Hide again").click()
    assert secret not in page.locator("#task-view").inner_text()
    page.get_by_role("button", name="Show", exact=True).click()
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    _expect_done(page)
    assert _results(annotator) == [{"label": "pos"}]


def test_label_page_with_a_task_loaded_is_accessible(page):
    project = _project(
        TaskType.TEXT_SPANS,
        [{"data": {"text": "Ada Lovelace met Babbage."}}],
        instructions="Mark **people**.",
    )
    _open(page, project)
    for key in ("ArrowRight", "Shift+ArrowRight", "1", "End"):
        page.keyboard.press(key)
    _screenshot(page, "label-spans.png")
    assert axe_violations(page) == []

    boxes = _project(TaskType.IMAGE_BOXES, [{"data": {"image": IMAGE}, "categories": ["gore"]}])
    page.goto(f"/label/{boxes.pk}/")
    _wait_task(page)
    canvas = page.get_by_test_id("canvas").bounding_box()
    _drag(page, (canvas["x"] + 50, canvas["y"] + 50), (canvas["x"] + 200, canvas["y"] + 150))
    _screenshot(page, "label-boxes.png")
    assert axe_violations(page) == []


def test_on_a_hidden_text_keys_wait_until_it_is_shown(page):
    """Issue 12: a digit picked a label before the text was revealed, and the first Enter
    revealed instead of submitting. Now, consistently: while the text is hidden a label key
    picks nothing and says why; Enter shows the text; once shown, keys label and Enter
    submits. A suggestion is never sent unseen."""
    secret = "A hidden text."
    project = _project(
        TaskType.TEXT_CLASSIFICATION,
        [
            {
                "data": {"text": secret},
                "categories": ["violence"],
                "predictions": [{"result": {"label": "neg"}}],
            }
        ],
    )
    annotator = _open(page, project)
    page.evaluate("document.activeElement.blur()")  # not on the "Show" button
    page.keyboard.press("1")
    expect(page.get_by_test_id("status")).to_contain_text("This text is hidden: show it first")
    assert page.locator(".label-btn[data-value=pos]").get_attribute("aria-pressed") == "false"
    assert secret not in page.locator("#task-view").inner_text()
    page.keyboard.press("Enter")  # shows the text, sends nothing
    expect(page.get_by_test_id("task-text")).to_have_text(secret)
    assert _results(annotator) == []
    page.keyboard.press("1")
    page.keyboard.press("Enter")  # now it submits what was picked, having been seen
    _expect_done(page)
    assert _results(annotator) == [{"label": "pos"}]


def test_a_blurred_image_is_revealed_under_the_pointer_and_blurred_again_after(page):
    project = _project(
        TaskType.IMAGE_CLASSIFICATION, [{"data": {"image": IMAGE}, "categories": ["gore"]}]
    )
    _open(page, project)
    canvas = page.get_by_test_id("canvas")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)  # resting where the next image appears...
    page.reload()
    _wait_task(page)
    # Functions, not expression strings: the page's CSP forbids eval.
    clear = "() => document.getElementById('canvas').classList.contains('revealed')"
    filter_of = "() => getComputedStyle(document.querySelector('.task-image')).filter"
    assert "blur(0px)" not in page.evaluate(filter_of) and not page.evaluate(clear)  # ...hidden
    canvas.hover(position={"x": 40, "y": 40})
    canvas.hover(position={"x": 60, "y": 50})
    page.wait_for_function(clear)
    expect(page.locator(".task-image")).to_have_css("filter", "blur(0px) grayscale(0)")
    page.mouse.move(5, 5)
    page.wait_for_function(
        "() => !document.getElementById('canvas').classList.contains('revealed')"
    )
    # Blurred and grey again once the short transition has run.
    expect(page.locator(".task-image")).to_have_css("filter", re.compile(r"grayscale\(1\)"))
    assert "blur(0px)" not in page.evaluate(filter_of)


def _grey_share(png: bytes) -> float:
    """The share of pixels with no colour (r, g and b within 12 of each other)."""
    import io

    from PIL import Image

    data = Image.open(io.BytesIO(png)).convert("RGB").tobytes()
    triples = [data[i : i + 3] for i in range(0, len(data), 3)]
    return sum(1 for rgb in triples if max(rgb) - min(rgb) <= 12) / len(triples)


def test_a_sensitive_image_is_grey_from_its_first_paint_and_in_colour_only_under_the_pointer(
    page,
):
    """Pixels, not classes: the test image is coloured shapes; protected, every painted pixel is
    grey (blurred and greyscale), from the first frame the image is shown."""
    project = _project(
        TaskType.IMAGE_CLASSIFICATION, [{"data": {"image": IMAGE}, "categories": ["violence"]}]
    )
    annotator = user_factory("annotator")
    login(page, annotator.username)
    page.mouse.move(1, 1)
    # Record the canvas the moment it is inserted, before any later frame.
    page.add_init_script(
        """
        new MutationObserver((records, observer) => {
          const img = document.querySelector('.task-image');
          if (img) {
            window.firstFilter = getComputedStyle(img).filter;
            observer.disconnect();
          }
        }).observe(document, { childList: true, subtree: true });
        """
    )
    page.goto(f"/label/{project.pk}/")
    _wait_task(page)
    assert "grayscale(1)" in page.evaluate("() => window.firstFilter")
    canvas = page.get_by_test_id("canvas")
    assert _grey_share(canvas.screenshot()) > 0.99
    canvas.hover(position={"x": 40, "y": 40})
    canvas.hover(position={"x": 60, "y": 50})
    image = page.locator(".task-image")
    expect(image).to_have_css("filter", "blur(0px) grayscale(0)")  # the transition has run
    assert _grey_share(canvas.screenshot()) < 0.9  # the colours are back
    page.mouse.move(1, 1)
    expect(image).to_have_css("filter", "blur(16px) grayscale(1)")
    assert _grey_share(canvas.screenshot()) > 0.99


def test_the_blur_strength_is_the_annotators_own_from_the_first_paint(page):
    """Kept on the server, not in one browser: the first frame of a sensitive image is blurred
    with the strength the annotator chose, and the slider saves a new one."""
    from workers.models import DisplayPreference
    from workers.services import display_preference_set

    project = _project(
        TaskType.IMAGE_CLASSIFICATION,
        [{"data": {"image": IMAGE}, "categories": ["violence"]} for _ in range(2)],
    )
    annotator = user_factory("annotator")
    display_preference_set(user=annotator, blur_px=6)
    login(page, annotator.username)
    page.mouse.move(1, 1)
    page.add_init_script(
        """
        new MutationObserver((records, observer) => {
          const img = document.querySelector('.task-image');
          if (img) {
            window.firstFilter = getComputedStyle(img).filter;
            observer.disconnect();
          }
        }).observe(document, { childList: true, subtree: true });
        """
    )
    page.goto(f"/label/{project.pk}/")
    first = _wait_task(page)
    assert page.evaluate("() => window.firstFilter") == "blur(6px) grayscale(1)"
    assert page.locator("#blur-level").input_value() == "6"
    page.locator("#blur-level").fill("30")
    expect(page.locator(".task-image")).to_have_css("filter", "blur(30px) grayscale(1)")
    for _ in range(50):  # saved when the PUT is answered
        if DisplayPreference.objects.get(user=annotator).blur_px == 30:
            break
        page.wait_for_timeout(100)
    assert DisplayPreference.objects.get(user=annotator).blur_px == 30
    page.get_by_role("button", name="Show image").click()
    page.locator("#blur-level").focus()  # label keys work on the slider too
    page.keyboard.press("1")
    _submit(page, first)
    assert page.locator("#blur-level").input_value() == "30"
    expect(page.locator(".task-image")).to_have_css("filter", "blur(30px) grayscale(1)")
