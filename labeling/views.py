"""Pages: thin views over selectors and services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import role_required
from accounts.roles import Role, role_of
from fairlabel.errors import DomainError
from labeling import selectors, services
from labeling.dispatch import task_categories
from labeling.exporting.selectors import fairness_card_url
from labeling.forms import ProjectForm, labels_to_text
from labeling.markdown import render_markdown
from labeling.models import Category
from labeling.policies import pay_floor, rules_for

OWNERS = (Role.OWNER, Role.ADMIN)
READERS = (Role.OWNER, Role.AUDITOR, Role.ADMIN)


PAGE_SIZE = 25


def _page(request, items, size: int = PAGE_SIZE):
    """One page of a list; every list pages instead of cutting at a fixed length."""
    return Paginator(items, size).get_page(request.GET.get("page"))


@role_required(*OWNERS)
def project_list(request):
    page = _page(request, selectors.projects_visible_to(request.user))
    return render(
        request,
        "labeling/project_list.html",
        {
            "page": page,
            "rows": selectors.project_rows(page.object_list),
            # An admin sees every owner's projects here, so the page says so and names them.
            "all_owners": role_of(request.user) == Role.ADMIN,
        },
    )


@role_required(*OWNERS)
@require_http_methods(["GET", "POST"])
def project_create(request):
    return _project_form(request, project=None)


@role_required(*OWNERS)
@require_http_methods(["GET", "POST"])
def project_edit(request, project_id: int):
    project = selectors.project_owned(user=request.user, project_id=project_id)
    return _project_form(request, project=project)


def _project_form(request, *, project):
    initial = None
    if project is not None:
        initial = {
            "title": project.title,
            "instructions": project.instructions,
            "task_type": project.task_type,
            "labels": labels_to_text(project.labels),
            "annotations_per_task": project.annotations_per_task,
            "content_categories": project.content_categories,
            "price_per_task": project.price_per_task,
            "estimated_seconds_per_task": project.estimated_seconds_per_task,
        }
    form = ProjectForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            fields = form.cleaned_for_service()
            if project is None:
                project = services.project_create(owner=request.user, **fields)
                messages.success(request, _("Project created. Import tasks next."))
            else:
                project = services.project_update(project=project, **fields)
                messages.success(request, _("Project saved."))
        except DomainError as exc:
            form.add_error(
                exc.extra.get("field") if exc.extra.get("field") in form.fields else None,
                exc.detail,
            )
        else:
            return redirect("labeling:project_detail", project_id=project.pk)
    return render(
        request,
        "labeling/project_form.html",
        {
            "form": form,
            "project": project,
            "floor": pay_floor(highest=True),
            "currency": settings.FAIRLABEL_CURRENCY,
        },
    )


@role_required(*READERS)
def project_detail(request, project_id: int):
    project = selectors.project_get(user=request.user, project_id=project_id)
    return render(
        request,
        "labeling/project_detail.html",
        {
            "project": project,
            "progress": selectors.project_progress(project),
            "rate": selectors.project_rate_value(project),
            "floor": pay_floor(highest=True),
            "annotators": selectors.project_annotators(project),
            # The first tasks only: the task list page filters, sorts and pages them all.
            "tasks": list(selectors.task_list(project=project)[:10]),
            "instructions_html": render_markdown(project.instructions),
            "is_owner": project.owner_id == request.user.pk,
            # Owners, auditors and admins (whoever may read this page) may share the card.
            "fairness_card_url": fairness_card_url(project, request=request),
        },
    )


@role_required(*READERS)
def task_list(request, project_id: int):
    """A project's tasks for its owner (and auditors): filters, sort, search in the data,
    thumbnails, pages. Two queries a page (the count and the rows), none per row."""
    project = selectors.project_get(user=request.user, project_id=project_id)
    query = request.GET
    filters = {
        "state": query.get("state", "") if query.get("state") in selectors.TASK_STATES else "",
        "label": query.get("label", "").strip(),
        "annotator": query.get("annotator", "").strip(),
        "has_suggestion": query.get("suggestion") == "1",
        "flagged": query.get("flagged") == "1",
        "search": query.get("q", "").strip()[:200],
        "sort": query.get("sort", "id") if query.get("sort") in selectors.TASK_SORTS else "id",
    }
    page = _page(request, selectors.task_list(project=project, **filters), size=50)
    kept = query.copy()
    kept.pop("page", None)
    return render(
        request,
        "labeling/task_list.html",
        {
            "project": project,
            "page": page,
            "filters": filters,
            "query": kept.urlencode(),
            "states": [
                ("new", _("Not started")),
                ("started", _("In progress")),
                ("finished", _("Finished")),
            ],
            "sorts": [
                ("id", _("Oldest first")),
                ("-id", _("Newest first")),
                ("-annotations", _("Most annotations")),
                ("annotations", _("Fewest annotations")),
            ],
            "is_image": project.task_type in ("image_classification", "image_boxes"),
        },
    )


@role_required(*OWNERS)
@require_POST
def project_publish(request, project_id: int):
    project = selectors.project_owned(user=request.user, project_id=project_id)
    try:
        services.project_publish(project=project)
        messages.success(request, _("Published: annotators can now label this project."))
    except DomainError as exc:
        messages.error(request, exc.detail)
    return redirect("labeling:project_detail", project_id=project.pk)


@role_required(*OWNERS)
@require_POST
def project_pause(request, project_id: int):
    project = selectors.project_owned(user=request.user, project_id=project_id)
    services.project_pause(project=project)
    messages.success(request, _("Paused: no new tasks are handed out."))
    return redirect("labeling:project_detail", project_id=project.pk)


@role_required(*READERS)
def task_detail(request, project_id: int, task_id: int):
    project = selectors.project_get(user=request.user, project_id=project_id)
    task = get_object_or_404(project.tasks, pk=task_id)
    return render(
        request,
        "labeling/task_detail.html",
        {
            "project": project,
            "task": task,
            "categories": task_categories(task=task, project=project),
            "annotations": selectors.task_annotations(task),
            "flags": selectors.task_flags(task),
        },
    )


@role_required(Role.ANNOTATOR)
def annotator_home(request):
    page = _page(request, selectors.projects_visible_to(request.user))
    for project in page.object_list:
        project.rate = selectors.project_rate_value(project)
    return render(
        request,
        "labeling/annotator_home.html",
        {
            "projects": page.object_list,
            "page": page,
            "floor": pay_floor(user=request.user),
            "currency": settings.FAIRLABEL_CURRENCY,
            "category_names": dict(Category.choices),
        },
    )


@role_required(Role.AUDITOR, Role.ADMIN)
def auditor_home(request):
    page = _page(request, selectors.projects_visible_to(request.user))
    return render(
        request,
        "labeling/auditor_home.html",
        {"page": page, "rows": selectors.project_rows(page.object_list)},
    )


def rules(request):
    """Algorithmic transparency: every rule the dispatcher applies, with its parameters and
    source, and for a signed-in annotator where it stands. Each app contributes its own rules
    (FAIRLABEL_RULE_SECTIONS)."""
    from django.utils import timezone

    return render(
        request,
        "labeling/rules.html",
        {"rules": rules_for(user=request.user, now=timezone.now())},
    )


@role_required(Role.ANNOTATOR)
def label(request, project_id: int):
    """The labeling page: the task, the label controls, today's progress. The page script
    (static/js/label.js) talks to the JSON API; this view hands it its wiring and strings."""
    project = selectors.project_for_labeling(project_id=project_id)
    if project.status != project.Status.PUBLISHED:
        # Paused or closed since the annotator opened it: say so, with the way back.
        return render(request, "labeling/label_closed.html", {"project": project})
    profile = getattr(request.user, "profile", None)
    today = selectors.annotator_today(
        annotator=request.user, tz_name=profile.timezone if profile else "UTC"
    )
    config = {
        "project": project.pk,
        "taskType": project.task_type,
        "labels": project.labels,
        "urls": {
            "next": reverse("api:next", args=[project.pk]),
            # The script puts the assignment id in place of {id}.
            "submit": reverse("api:submit", args=[0]).replace("/0/", "/{id}/"),
            "skip": reverse("api:skip", args=[0]).replace("/0/", "/{id}/"),
            "home": reverse("labeling:annotator_home"),
            "rules": reverse("labeling:rules"),
            "heartbeat": reverse("api:heartbeat"),
            "breaks": reverse("api:breaks"),
            "breakEnd": reverse("api:break-end"),
            "consent": reverse("api:consent", args=[project.pk]),
            "display": reverse("api:display"),
            "flag": reverse("api:flag", args=[0]).replace("/0/", "/{id}/"),
        },
        "projectCategories": project.content_categories,
        "today": today,
        # Before the first task of a project, its instructions are read first (time counted).
        "readingInstructions": bool(project.instructions.strip())
        and not selectors.annotator_started(annotator=request.user, project=project),
        "categories": dict(Category.choices),
        "text": {
            "loading": _("Loading the next task…"),
            "saved": _("Saved"),
            "savedNone": _("Saved: none of the labels applies"),
            "savedNoSpan": _("Saved: nothing to mark in this text"),
            "savedNoBox": _("Saved: nothing to box in this image"),
            "showFirst": _(
                "This text is hidden: show it first (Enter), or skip it (S) with no penalty."
            ),
            "savedExtra": _("Saved as an extra annotation"),
            "skipped": _("Skipped"),
            "undone": _("Undone"),
            "nothingToUndo": _("Nothing to undo"),
            "pickLabel": _("Pick a label first"),
            "selectText": _("Select some text first (mouse, or arrow keys)"),
            "done": _("Nothing left in this project — thank you"),
            "back": _("Back to your projects"),
            "refused": _("No task for now"),
            "until": _("Until"),
            "rule": _("The rule"),
            "retry": _("Try again"),
            "network": _(
                "The server could not be reached; your work is still here. "
                "Press Enter to try again."
            ),
            "error": _("Something went wrong"),
            "selection": _("Selection"),
            "noSelection": _("No selection"),
            "remove": _("Remove"),
            "box": _("Box"),
            "noSpans": _("No span yet."),
            "noBoxes": _("No box yet: drag on the image to draw one."),
            "boxRemoved": _("Box removed"),
            "spanRemoved": _("Span removed"),
            "sensitiveText": _("This text may contain disturbing content"),
            "sensitiveImage": _("This image may contain disturbing content"),
            "sensitiveHelp": _(
                "It stays hidden until you choose to see it. You may skip it (S) with no penalty."
            ),
            "show": _("Show"),
            "hide": _("Hide again"),
            "showImage": _("Show image"),
            "blurImage": _("Blur again"),
            "taskImage": _("Task image"),
            "todayCount": _("Today: {count} tasks · {minutes} min"),
            "expires": _("Held for you until {time}"),
            "task": _("Task"),
            "textToAnnotate": _("Text to annotate"),
            "spanHelp": _(
                "Select words with the mouse, or move a word cursor with ← and → "
                "and extend it with Shift+← and Shift+→; then press a label key."
            ),
            "spansHeading": _("Spans"),
            "boxesHeading": _("Boxes"),
            "imageTools": _("Image tools"),
            "zoomIn": _("Zoom in"),
            "zoomOut": _("Zoom out"),
            "fit": _("Fit"),
            "blurLevel": _("Blur level"),
            "imageFailed": _("The image could not be loaded. You may skip this task (S)."),
            "hoursMinutes": _("{h} h {m} min"),
            "minutes": _("{m} min"),
            "workedToday": _("Worked today: {t}"),
            "workedWeek": _("this week: {t}"),
            "nextBreak": _("next break in {t} of work"),
            "onBreak": _("on a break"),
            "breakTitle": _("Break"),
            "cooldownTitle": _("A paid cool-down from sensitive content"),
            "breakDue": _(
                "A break is due: finish this task, then rest. No new task until after it."
            ),
            "resumeNow": _("Resume now"),
            "readFirst": _("Read the instructions above first; the time you spend on them counts."),
            "start": _("Start labeling"),
            "consentTitle": _("Before you start: what this project may show"),
            "consentIntro": _(
                "Some tasks of this project may hold disturbing content. Choose the kinds you "
                "agree to see; tasks with the others are not given to you."
            ),
            "consentLegend": _("I agree to see"),
            "consentProtections": _(
                "Sensitive images stay blurred and grey, and sensitive text hidden, until you "
                "choose to see them. You can skip any task with no penalty. Your time with "
                "sensitive content is limited each day."
            ),
            "consentStop": _(
                "You can stop at any time: take a recovery break, stop sensitive work for the "
                "day, or withdraw this consent. Stopping changes no pay owed."
            ),
            "consentAgree": _("Agree to the checked kinds and continue"),
            "consentNone": _("Continue without sensitive content"),
            "consentSaved": _("Your choice is saved."),
            "support": _("Support:"),
            "stoppedSensitive": _("No more sensitive tasks for you today."),
            "flagged": _("Flagged: this task now carries the warning for everyone."),
            "hiddenChoose": _(
                "This content is hidden: show it, or pick a label yourself, before submitting."
            ),
        },
    }
    return render(
        request,
        "labeling/label.html",
        {
            "project": project,
            "instructions_html": render_markdown(project.instructions),
            "today": today,
            "config": config,
            "categories": Category.choices,
            "support": settings.FAIRLABEL_SUPPORT_CONTACT,
            # The legend names the project's own keys (letters too), not a fixed 1…9 0.
            "hotkeys": [lab["hotkey"] for lab in project.labels if lab.get("hotkey")],
        },
    )
