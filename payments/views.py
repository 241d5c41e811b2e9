"""Fair-pay pages: the annotator's earnings, the owner's budget, the admin's payouts."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import role_required
from accounts.roles import Role, role_of
from accounts.selectors import pseudonyms_for
from fairlabel.errors import DomainError
from labeling.selectors import project_get, project_owned
from payments import charts, selectors, services
from payments.models import Kind, Payout
from payments.policies import voice_per_week


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
    summary, details = job.summary or {}, job.details or {}
    return render(
        request,
        "payments/report.html",
        {
            "job": job,
            "s": summary,
            "d": details,
            "chart": charts.histogram(
                details.get("histogram", []), summary.get("floor_hourly", "0")
            ),
            "grid": charts.day_grid(
                details.get("hours_per_day", []), details.get("daily_hours_limit", "8")
            ),
            "categories": charts.bars(summary.get("sensitive_hours") or {}),
            "days": details.get("hours_per_day", [])[:500],
        },
    )


@role_required(Role.AUDITOR, Role.ADMIN)
def report_days_csv(request, report_id: int):
    """Hours per day for every pseudonym of the report, streamed."""
    from django.http import Http404, StreamingHttpResponse

    from payments.models import ReportJob
    from payments.reports import report_days_rows

    job = ReportJob.objects.filter(pk=report_id, status="done").defer("csv", "details").first()
    if job is None:
        raise Http404

    class _Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in report_days_rows(job)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="fairlabel-report-{job.pk}-days.csv"'
    return response


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


# --- worker voice ------------------------------------------------------------------------------


def _voice_project_or_404(request, project_id: int):
    from django.http import Http404

    from payments.policies import voice_project

    try:
        return voice_project(annotator=request.user, project_id=project_id)
    except DomainError as error:
        raise Http404 from error


@never_cache
@role_required(Role.ANNOTATOR)
def voice_send(request, project_id: int):
    """The annotator's form: an anonymous message to the auditors about this project. Works
    without JavaScript; the confirmation is a plain redirect (no session message is written)."""
    from payments.models import VOICE_TEXT_MAX, VoiceTopic

    project = _voice_project_or_404(request, project_id)
    context = {
        "project": project,
        "topics": VoiceTopic.choices,
        "max_length": VOICE_TEXT_MAX,
        "per_week": voice_per_week(),
        "topic": "",
        "text": "",
        "error": None,
        "sent_week": None,
    }
    status = 200
    if request.method == "POST":
        topic, text = request.POST.get("topic", ""), request.POST.get("text", "")
        try:
            week = services.voice_message_send(
                annotator=request.user, project_id=project.pk, topic=topic, text=text
            )
        except DomainError as error:
            context.update(topic=topic, text=text, error=error.detail)
            status = error.status_code
        else:
            url = reverse("payments:voice_send", args=[project.pk])
            return redirect(f"{url}?{urlencode({'sent': week.isoformat()})}")
    elif request.GET.get("sent"):
        try:
            context["sent_week"] = date.fromisoformat(request.GET["sent"])
        except ValueError:
            pass
    return render(request, "payments/voice_send.html", context, status=status)


@never_cache
@role_required(Role.AUDITOR, Role.ADMIN)
def voice_list(request):
    """The annotators' anonymous messages, per project and per week: read only."""
    from django.core.paginator import Paginator

    from labeling.selectors import projects_visible_to
    from payments.models import VoiceTopic

    def _int(raw: str | None) -> int | None:
        return int(raw) if raw and raw.isdigit() and len(raw) < 19 else None

    def _day(raw: str | None) -> date | None:
        try:
            return date.fromisoformat(raw) if raw else None
        except ValueError:
            return None

    project_id, week = _int(request.GET.get("project")), _day(request.GET.get("week"))
    since = _day(request.GET.get("since"))  # a report's link: the weeks from its start
    rows = selectors.voice_messages(project_id=project_id, week=week, since=since)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = urlencode(
        {
            k: v
            for k, v in (
                ("project", project_id),
                ("week", week and week.isoformat()),
                ("since", since and since.isoformat()),
            )
            if v
        }
    )
    return render(
        request,
        "payments/voice_list.html",
        {
            "page": page,
            "messages_page": page.object_list,
            "topics": dict(VoiceTopic.choices),
            "projects": projects_visible_to(request.user).order_by("title")[:500],
            "weeks": selectors.voice_weeks()[:200],
            "project_id": project_id,
            "week": week,
            "query": query,
        },
    )


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
