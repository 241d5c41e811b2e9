"""Export pages: the form and the job list on the project page (loaded and polled by htmx),
also reachable as a page of its own without JavaScript; and a project's public fairness card."""

from __future__ import annotations

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.permissions import role_required
from accounts.roles import Role
from fairlabel.errors import DomainError
from labeling.exporting import selectors, services
from labeling.models import Category, ExportFormat
from labeling.selectors import project_owned

OWNERS = (Role.OWNER, Role.ADMIN)


def _panel_context(project, *, error: str = "", chosen: str = "") -> dict:
    jobs = list(selectors.export_jobs_of(project))
    formats = [(f, ExportFormat(f).label) for f in services.export_formats_for(project.task_type)]
    return {
        "project": project,
        "jobs": jobs,
        "active": selectors.export_jobs_active(jobs),
        "formats": formats,
        "error": error,
        "chosen": chosen or formats[0][0],
        "majority_offered": services.majority_offered(project.task_type),
        "majority_conll_only": project.task_type == "text_spans",
    }


@role_required(*OWNERS)
@require_http_methods(["GET", "POST"])
def export_panel(request, project_id: int):
    project = project_owned(user=request.user, project_id=project_id)
    error, chosen = "", request.POST.get("format", "")
    if request.method == "POST":
        try:
            services.export_job_create(
                project=project,
                user=request.user,
                fmt=chosen,
                only_finished=bool(request.POST.get("only_finished")),
                majority=bool(request.POST.get("majority")),
            )
        except DomainError as exc:
            error = exc.detail
        if not request.htmx:
            if error:
                messages.error(request, error)
            else:
                messages.success(request, _("Export started."))
            return redirect("labeling:project_detail", project_id=project.pk)
    template = "labeling/export_panel.html" if request.htmx else "labeling/export_page.html"
    return render(request, template, _panel_context(project, error=error, chosen=chosen))


@role_required(*OWNERS)
@require_GET
def export_jobs(request, project_id: int):
    project = project_owned(user=request.user, project_id=project_id)
    return render(request, "labeling/export_jobs.html", _panel_context(project))


# --- the public fairness card: no sign-in, the signed token is the secret -------------------


@require_GET
def fairness_card(request, token: str):
    project = selectors.fairness_card_project(token=token)
    card = selectors.fairness_card(project)
    names = dict(Category.choices)
    per_category = (card.get("exposure") or {}).get("per_category", {})
    verification = (card.get("ledger") or {}).get("last_verification") or {}
    return render(
        request,
        "labeling/fairness_card.html",
        {
            "card": card,
            "d": card["effective_hourly_distribution"],
            "computed_at": parse_datetime(card["computed_at"]),
            "period_start": _moment(card["period"]["start"]),
            "period_end": _moment(card["period"]["end"]),
            "categories": [(names.get(k, k), h) for k, h in per_category.items()],
            "verified_at": _moment(verification.get("checked_at")),
            "json_url": selectors.fairness_card_path(project, fmt="json"),
        },
    )


def _moment(text: str | None):
    return parse_datetime(text) if text else None


@require_GET
def fairness_card_json(request, token: str):
    project = selectors.fairness_card_project(token=token)
    return JsonResponse(selectors.fairness_card(project), json_dumps_params={"indent": 2})
