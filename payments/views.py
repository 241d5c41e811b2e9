"""Fair-pay pages: the annotator's earnings, the owner's budget, the admin's payouts."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import role_required
from accounts.roles import Role, role_of
from accounts.selectors import pseudonyms_for
from fairlabel.errors import DomainError
from labeling.selectors import project_get, project_owned
from payments import selectors, services
from payments.models import Kind, Payout


@role_required(Role.ANNOTATOR)
def earnings(request):
    data = selectors.earnings_of(annotator=request.user)
    labels = dict(Kind.choices)
    lines = [
        {
            **e,
            "label": labels.get(e["kind"], e["kind"]),
            "at": datetime.fromisoformat(e["created_at"]),
        }
        for e in data["entries"]
    ]
    return render(
        request,
        "payments/earnings.html",
        {
            "earnings": data,
            "lines": lines,
            "next_settlement": datetime.fromisoformat(data["next_settlement"]),
            "hours": (Decimal(data["paid_seconds"]) / 3600).quantize(Decimal("0.01")),
            "reviews": selectors.reviews_of_annotator(annotator=request.user),
            "payouts": Payout.objects.filter(annotator=request.user)[:20],
        },
    )


@require_POST
@role_required(Role.ANNOTATOR)
def payout_request(request):
    try:
        payout = services.payout_request(
            annotator=request.user, amount=request.POST.get("amount") or None
        )
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(
            request,
            _("Payout of %(a)s %(c)s requested.") % {"a": payout.amount, "c": payout.currency},
        )
    return redirect("payments:earnings")


@require_POST
@role_required(Role.ANNOTATOR)
def appeal(request, annotation_id: int):
    try:
        services.appeal_submit(
            annotator=request.user, annotation_id=annotation_id, text=request.POST.get("text", "")
        )
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("Your appeal was sent. A person will decide by the deadline."))
    return redirect("payments:earnings")


@role_required(Role.OWNER, Role.AUDITOR, Role.ADMIN)
def budget(request, project_id: int):
    project = project_get(user=request.user, project_id=project_id)
    return render(
        request,
        "payments/budget.html",
        {
            "project": project,
            "budget": selectors.budget_of(project=project),
            "can_fund": project.owner_id == request.user.pk or role_of(request.user) == Role.ADMIN,
        },
    )


@require_POST
@role_required(Role.OWNER, Role.ADMIN)
def fund(request, project_id: int):
    project = project_owned(user=request.user, project_id=project_id)
    try:
        entry = services.project_fund(
            project=project, amount=request.POST.get("amount", ""), by=request.user
        )
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(
            request,
            _("%(a)s %(c)s added to the budget.") % {"a": entry.amount, "c": entry.currency},
        )
    return redirect("payments:budget", project_id=project.pk)


@role_required(Role.ADMIN)
def payouts(request):
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("payout") if i.isdigit()]
        done = services.payouts_mark_paid(
            ids=ids, by=request.user, reference=request.POST.get("reference", "")
        )
        messages.success(request, _("%(n)d payouts marked paid.") % {"n": done})
        return redirect("payments:payouts")
    pending = selectors.payouts_pending()
    names = pseudonyms_for([p.annotator_id for p in pending])
    rows = [(p, names.get(p.annotator_id, "")) for p in pending]
    return render(request, "payments/payouts.html", {"rows": rows})


@role_required(Role.ADMIN)
def payouts_csv(request):
    """Pending payouts for payroll or a payment provider: one row each, amounts as decimals."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="fairlabel-payouts.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["payout_id", "annotator_id", "username", "email", "amount", "currency", "requested_at"]
    )
    for payout in selectors.payouts_pending():
        user = payout.annotator
        writer.writerow(
            [
                payout.pk,
                user.pk,
                user.username,
                user.email,
                f"{payout.amount}",
                payout.currency,
                payout.requested_at.isoformat(),
            ]
        )
    return response


def _svg_histogram(bins: list[dict], floor: str) -> dict:
    """Bars of the effective-hourly histogram in a 600x200 box, and where the floor falls."""
    if not bins:
        return {}
    width, height, pad = 600, 200, 20
    top = max(b["count"] for b in bins) or 1
    step = (width - 2 * pad) / len(bins)
    span = Decimal(bins[-1]["to"])
    bars = []
    for i, b in enumerate(bins):
        h = (height - 2 * pad) * b["count"] / top
        bars.append(
            {
                "x": round(pad + i * step, 1),
                "y": round(height - pad - h, 1),
                "w": round(step - 2, 1),
                "h": round(h, 1),
                "label": f"{b['from']} to {b['to']}: {b['count']}",
                "count": b["count"],
            }
        )
    floor_x = (
        (pad + (width - 2 * pad) * Decimal(floor) / span).quantize(Decimal("0.1")) if span else pad
    )
    return {"bars": bars, "floor_x": floor_x, "width": width, "height": height, "max": span}


@role_required(Role.AUDITOR, Role.ADMIN)
def reports(request):
    from labeling.selectors import projects_visible_to
    from payments.models import ReportJob
    from payments.reports import report_create

    if request.method == "POST":
        try:
            start = datetime.fromisoformat(request.POST.get("start", ""))
            end = datetime.fromisoformat(request.POST.get("end", ""))
        except ValueError:
            messages.error(request, _("Give the period as two dates."))
            return redirect("payments:reports")
        from datetime import UTC

        start, end = (
            start.replace(tzinfo=start.tzinfo or UTC),
            end.replace(tzinfo=end.tzinfo or UTC),
        )
        project = None
        if request.POST.get("project"):
            project = project_get(user=request.user, project_id=int(request.POST["project"]))
        try:
            job = report_create(user=request.user, start=start, end=end, project=project)
        except DomainError as error:
            messages.error(request, error.detail)
            return redirect("payments:reports")
        return redirect("payments:report", report_id=job.pk)
    return render(
        request,
        "payments/reports.html",
        {
            "reports": ReportJob.objects.defer("csv", "details").select_related("project")[:50],
            "projects": projects_visible_to(request.user)[:500],
        },
    )


@role_required(Role.AUDITOR, Role.ADMIN)
def report(request, report_id: int):
    from django.http import Http404

    from payments.models import ReportJob

    job = ReportJob.objects.defer("csv").select_related("project").filter(pk=report_id).first()
    if job is None:
        raise Http404
    summary = job.summary or {}
    chart = _svg_histogram(
        (job.details or {}).get("histogram", []), summary.get("floor_hourly", "0")
    )
    return render(
        request,
        "payments/report.html",
        {
            "job": job,
            "s": summary,
            "chart": chart,
            "days": (job.details or {}).get("hours_per_day", [])[:500],
        },
    )


@role_required(Role.AUDITOR, Role.ADMIN)
def report_csv(request, report_id: int):
    from django.http import Http404

    from payments.models import ReportJob

    job = ReportJob.objects.filter(pk=report_id, status="done").only("csv").first()
    if job is None:
        raise Http404
    response = HttpResponse(job.csv, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="fairlabel-report-{job.pk}.csv"'
    return response


# --- the annotator's work record -----------------------------------------------------------


@role_required(Role.ANNOTATOR)
def work_record(request):
    """The record as a printable page: what the JSON file says, and how to check it."""
    from payments.work_record import work_record_cut_token, work_record_of

    document = work_record_of(annotator=request.user)
    return render(
        request,
        "payments/work_record.html",
        {
            "document": document,
            "r": document["record"],
            "cut": work_record_cut_token(annotator=request.user, document=document),
        },
    )


@require_http_methods(["GET", "POST"])
def work_record_verify(request):
    """Anyone (a bank, an employer) uploads a work record and sees whether the ledger confirms
    it. No sign-in; limited per address and to 1 MB."""
    from rest_framework.exceptions import Throttled
    from rest_framework.request import Request

    from payments.api import WorkRecordVerifyThrottle, work_record_parse, work_record_upload
    from payments.work_record import work_record_verify as verify

    verdict, error, status = None, None, 200
    if request.method == "POST":
        throttle = WorkRecordVerifyThrottle()
        if not throttle.allow_request(Request(request), None):
            error, status = Throttled(throttle.wait()).detail, 429
        else:
            try:
                if not request.content_type.startswith("multipart/form-data"):
                    raise DomainError("file_required", _("Choose the work record's .json file."))
                verdict = verify(document=work_record_parse(work_record_upload(request)))
            except DomainError as exc:
                error, status = exc.detail, exc.status_code
    return render(
        request,
        "payments/work_record_verify.html",
        {"verdict": verdict, "error": error},
        status=status,
    )
