"""Fair-pay pages: the annotator's earnings, the owner's budget, the admin's payouts."""

from __future__ import annotations

import csv
from datetime import datetime

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

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
            "hours": f"{float(data['paid_seconds']) / 3600:.2f}",
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
