"""Issue 12 in Chromium, in English and in French: the project form's live rate, the label page
with letter hotkeys, a project paused mid-task, boxes relabelled and undone, an empty
multi-label answer, the admin's way to the projects, the sign-up's time zone, the language menu
on a phone, and the task page's boxes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from labeling.models import Annotation, TaskType
from labeling.services import project_pause, project_publish, tasks_create
from tests.browser.conftest import CSP_LISTENER
from tests.factories import project_factory, user_factory
from tests.labeling.test_export_support import labeled_project

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = "/static/test/shapes-400x300.png"  # 400 by 300 px
TEXT = {
    "en": {
        "meets": "meets the floor of 12.00",
        "under": "under the floor of 12.00",
        "rate": "18.00 USD/h",
        "saved": "Saved",
        "paused": "This project is paused by its owner",
        "closed": "This project is not open for labeling.",
        "all": "All projects",
        "owner": "Owner",
    },
    "fr": {
        "meets": "atteint le plancher de 12,00",
        "under": "sous le plancher de 12,00",
        "rate": "18,00 USD/h",
        "saved": "Enregistré",
        "paused": "Ce projet est mis en pause par son propriétaire",
        "closed": "Ce projet n'est pas ouvert à l'annotation.",
        "all": "Tous les projets",
        "owner": "Propriétaire",
    },
}


@pytest.fixture(autouse=True)
def _only_the_page_rules(settings):
    settings.FAIRLABEL_DISPATCH_GATES = ["labeling.policies.project_open_gate"]
    settings.FAIRLABEL_ASSIGNMENT_HOOKS = []


@pytest.fixture
def open_page(browser, live_server) -> Iterator:
    """A page in a language (Accept-Language), a time zone and a width of one's choosing."""
    contexts = []
    errors: list[str] = []

    def make(lang="en", *, timezone_id="UTC", width=1280):
        context = browser.new_context(
            base_url=live_server.url,
            locale={"en": "en-US", "fr": "fr-FR"}[lang],
            timezone_id=timezone_id,
            viewport={"width": width, "height": 900},
        )
        context.set_default_timeout(10_000)
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: errors.append(msg.text) if msg.text.startswith("CSP violation") else None,
        )
        contexts.append(context)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _login(page, user, lang):
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill("a-good-test-password")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state("domcontentloaded")


def _wait_task(page):
    page.wait_for_selector("#task-view[data-task-id]")
    page.wait_for_function(
        "() => document.getElementById('labeler').getAttribute('aria-busy') === 'false'"
    )


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_project_form_rate_in_each_language(open_page, lang):
    """French read "sous le plancher de NaN"; the new form showed a red verdict before
    anything was typed."""
    t = TEXT[lang]
    page = open_page(lang)
    _login(page, user_factory("owner"), lang)
    page.goto("/projects/new/")
    expect(page.locator("#rate-value")).to_have_text("—")
    expect(page.locator("#rate-verdict")).to_have_text("")
    page.locator("#id_estimated_seconds_per_task").fill("20")
    page.locator("#id_price_per_task").fill("0.10")
    expect(page.locator("#rate-value")).to_have_text(t["rate"])
    expect(page.locator("#rate-verdict")).to_have_text(t["meets"])
    page.locator("#id_price_per_task").fill("0.05")
    expect(page.locator("#rate-verdict")).to_contain_text(t["under"])
    assert "NaN" not in page.locator("#rate").inner_text()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_letter_hotkeys_are_the_legend_and_the_keys(open_page, lang):
    project = project_factory(
        labels=[{"value": "People", "hotkey": "p"}, {"value": "Places", "hotkey": "l"}]
    )
    tasks_create(project=project, rows=[{"data": {"text": "Paris"}}])
    project = project_publish(project=project)
    annotator = user_factory("annotator")
    page = open_page(lang)
    _login(page, annotator, lang)
    page.goto(f"/label/{project.pk}/")
    _wait_task(page)
    legend = page.get_by_test_id("legend-keys")
    expect(legend).to_have_text("P L")
    assert "9" not in page.locator("#legend").inner_text()
    page.keyboard.press("1")  # not a key of this project: nothing happens
    assert page.locator(".label-btn[aria-pressed=true]").count() == 0
    page.keyboard.press("l")
    page.keyboard.press("Enter")
    page.get_by_test_id("done").wait_for()
    assert [a.result for a in Annotation.objects.filter(annotator=annotator)] == [
        {"label": "Places"}
    ]
    # Times on the page follow its language, not the browser's: no "AM"/"PM" in French.
    if lang == "fr":
        assert not re.search(r"\b[AP]M\b", page.locator("body").inner_text())


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_project_paused_mid_task_says_saved_and_then_paused(open_page, lang):
    t = TEXT[lang]
    project = project_factory(tasks=2, publish=True)
    annotator = user_factory("annotator")
    page = open_page(lang)
    _login(page, annotator, lang)
    page.goto(f"/label/{project.pk}/")
    _wait_task(page)
    project_pause(project=project)  # the owner pauses while the task is held
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    refusal = page.get_by_test_id("refusal")
    refusal.wait_for()
    expect(page.get_by_test_id("saved-note")).to_have_text(t["saved"])
    expect(refusal).to_contain_text(t["closed"])
    expect(page.get_by_test_id("status")).to_contain_text(t["saved"])
    assert Annotation.objects.filter(annotator=annotator).count() == 1
    page.reload()  # a paused project's page: a friendly panel, not a 404
    expect(page.get_by_test_id("project-closed")).to_contain_text(t["paused"])


def test_the_sidebar_marks_the_selected_boxs_label_through_relabel_and_undo(open_page):
    project = project_factory(task_type=TaskType.IMAGE_BOXES)
    tasks_create(project=project, rows=[{"data": {"image": IMAGE}}])
    project = project_publish(project=project)
    page = open_page()
    _login(page, user_factory("annotator"), "en")
    page.goto(f"/label/{project.pk}/")
    _wait_task(page)
    canvas = page.get_by_test_id("canvas").bounding_box()
    page.mouse.move(canvas["x"] + 40, canvas["y"] + 40)
    page.mouse.down()
    page.mouse.move(canvas["x"] + 150, canvas["y"] + 120, steps=6)
    page.mouse.up()

    def pressed():
        return page.locator(".label-btn[aria-pressed=true]").get_attribute("data-value")

    assert pressed() == "cat"
    page.keyboard.press("2")  # the selected box becomes a dog
    assert pressed() == "dog"
    page.keyboard.press("z")  # undo: the box is a cat again, and the sidebar says so
    expect(page.locator("#overlay .box")).to_have_attribute("data-label", "cat")
    assert pressed() == "cat"
    page.keyboard.press("Escape")  # no box selected: the label new boxes get (dog, chosen)
    assert pressed() == "dog"


def test_an_empty_multi_label_answer_says_what_it_means(open_page):
    project = project_factory(task_type=TaskType.MULTI_LABEL, tasks=2, publish=True)
    annotator = user_factory("annotator")
    page = open_page()
    _login(page, annotator, "en")
    page.goto(f"/label/{project.pk}/")
    _wait_task(page)
    expect(page.get_by_test_id("multi-hint")).to_contain_text("none of them applies")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("status")).to_have_text("Saved: none of the labels applies")
    assert [a.result for a in Annotation.objects.filter(annotator=annotator)] == [{"labels": []}]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_admin_finds_its_way_to_all_projects(open_page, lang):
    t = TEXT[lang]
    owner = user_factory("owner", username="olga")
    project_factory(owner, title="Olga's reviews")
    page = open_page(lang)
    _login(page, user_factory("admin"), lang)
    page.wait_for_url("**/admin/")
    page.locator("#user-tools a[href='/projects/']").click()
    page.wait_for_url("**/projects/")
    expect(page.locator("h1")).to_have_text(t["all"])
    table = page.get_by_test_id("projects")
    expect(table.locator("th", has_text=t["owner"])).to_have_count(1)
    expect(table).to_contain_text("olga")
    expect(page.locator("nav.nav")).to_contain_text(t["all"])


def test_sign_up_preselects_the_browsers_time_zone(open_page):
    page = open_page("fr", timezone_id="Africa/Nairobi")
    page.goto("/accounts/signup/")
    assert page.locator("select[name=timezone]").input_value() == "Africa/Nairobi"
    assert page.locator("select[name=country] option[value=KE]").inner_text() == "Kenya"


def test_the_language_menu_keeps_its_width_on_a_phone(open_page):
    page = open_page(width=390)
    page.goto("/accounts/login/")
    menu = page.locator("#lang-select")
    box = menu.bounding_box()
    assert box["width"] >= 48, box
    assert menu.evaluate("el => el.options[el.selectedIndex].text") == "EN"
    page_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert page_width <= 390


def test_an_owners_task_list_fits_a_phone(open_page):
    """The task table used to widen the whole page past 390 px (it scrolls in its card now)."""
    project = project_factory(tasks=3)
    page = open_page(width=390)
    _login(page, project.owner, "en")
    for url in (f"/projects/{project.pk}/tasks/", f"/projects/{project.pk}/", "/projects/"):
        page.goto(url)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, url


def test_the_task_page_draws_the_boxes_on_the_image(open_page):
    project = labeled_project(TaskType.IMAGE_BOXES, tasks=1, per_task=1, annotators=1)
    task = project.tasks.get()
    type(task).objects.filter(pk=task.pk).update(data={"image": IMAGE})
    page = open_page()
    _login(page, project.owner, "en")
    page.goto(f"/projects/{project.pk}/tasks/{task.pk}/")
    boxes = page.locator("[data-testid=box-result] .box")
    expect(boxes).to_have_count(2)
    image = page.locator("[data-testid=box-result] img").bounding_box()
    first = boxes.first.bounding_box()
    scale = image["width"] / 400
    assert first["x"] - image["x"] == pytest.approx(64 * scale, abs=3)
    assert first["width"] == pytest.approx(320 * scale, abs=4)


def test_an_empty_span_answer_says_what_it_means(open_page):
    project = project_factory(task_type=TaskType.TEXT_SPANS, tasks=2, publish=True)
    annotator = user_factory("annotator")
    page = open_page()
    _login(page, annotator, "en")
    page.goto(f"/label/{project.pk}/")
    _wait_task(page)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("status")).to_have_text("Saved: nothing to mark in this text")
    assert [a.result for a in Annotation.objects.filter(annotator=annotator)] == [{"spans": []}]
