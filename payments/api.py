"""Fair-pay API: funding, budgets, earnings, payouts, reviews and appeals, the ledger check.
Thin views over services and selectors."""

from __future__ import annotations

import json

from django.conf import settings
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasRole
from accounts.roles import Role
from accounts.throttling import LoginRateThrottle
from fairlabel.api_errors import ErrorOut
from fairlabel.errors import DomainError
from fairlabel.parsers import json_check
from labeling.selectors import project_get, project_owned
from payments import ledger, selectors, services, work_record
from payments.models import VOICE_TEXT_MAX, Payout, Review, VoiceTopic

ANY = serializers.JSONField()


class AmountIn(serializers.Serializer):
    amount = serializers.CharField(max_length=32, help_text='A decimal string, e.g. "250.00".')


class FundApi(APIView):
    """Hold funds for the project's pay (owner)."""

    permission_classes = [HasRole(Role.OWNER, Role.ADMIN)]

    @extend_schema(
        request=AmountIn,
        responses={
            201: inline_serializer("Budget", {"budget": ANY, "entry": ANY}),
            400: OpenApiResponse(ErrorOut, description="Not a positive amount in cents."),
        },
    )
    def post(self, request, project_id: int):
        project = project_owned(user=request.user, project_id=project_id)
        data = AmountIn(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.project_fund(
            project=project, amount=data.validated_data["amount"], by=request.user
        )
        return Response(
            {
                "entry": {"kind": entry.kind, "amount": str(entry.amount), "hash": entry.hash},
                "budget": selectors.budget_of(project=project),
            },
            status=201,
        )


class BudgetApi(APIView):
    """The project's money: funded, available, reserved, spent, top-ups, price changes."""

    permission_classes = [HasRole(Role.OWNER, Role.AUDITOR, Role.ADMIN)]

    @extend_schema(responses=inline_serializer("BudgetOut", {"currency": ANY}))
    def get(self, request, project_id: int):
        project = project_get(user=request.user, project_id=project_id)
        return Response(selectors.budget_of(project=project))


class EarningsApi(APIView):
    """Your ledger lines and totals (DESIGN.md "Earnings")."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(
        responses=inline_serializer(
            "Earnings",
            {
                "currency": serializers.CharField(),
                "floor_hourly": serializers.CharField(),
                "paid_seconds": serializers.CharField(),
                "earned": serializers.CharField(),
                "effective_hourly": serializers.CharField(allow_null=True),
                "balance": serializers.CharField(),
                "entries": serializers.ListField(child=ANY),
            },
        )
    )
    def get(self, request):
        return Response(selectors.earnings_of(annotator=request.user))


class PayoutIn(serializers.Serializer):
    amount = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text="Default: the whole balance."
    )


def _payout_out(payout: Payout) -> dict:
    return {
        "id": payout.pk,
        "amount": str(payout.amount),
        "currency": payout.currency,
        "status": payout.status,
        "requested_at": payout.requested_at.isoformat(),
        "paid_at": payout.paid_at.isoformat() if payout.paid_at else None,
    }


class PayoutsApi(APIView):
    """Your payouts; POST asks for one (above FAIRLABEL_PAYOUT_MINIMUM, at most the balance)."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(responses=inline_serializer("Payouts", {"payouts": ANY}))
    def get(self, request):
        rows = Payout.objects.filter(annotator=request.user)[:100]
        return Response({"payouts": [_payout_out(p) for p in rows]})

    @extend_schema(
        request=PayoutIn,
        responses={
            201: inline_serializer("PayoutOut", {"id": ANY, "amount": ANY, "status": ANY}),
            400: OpenApiResponse(ErrorOut, description="Over the balance or under the minimum."),
        },
    )
    def post(self, request):
        data = PayoutIn(data=request.data)
        data.is_valid(raise_exception=True)
        payout = services.payout_request(
            annotator=request.user, amount=data.validated_data.get("amount")
        )
        return Response(_payout_out(payout), status=201)


class LedgerVerifyApi(APIView):
    """Recompute the hash chains and check every kept balance against its entries."""

    permission_classes = [HasRole(Role.AUDITOR, Role.ADMIN)]

    @extend_schema(
        responses=inline_serializer(
            "LedgerVerify",
            {
                "ok": serializers.BooleanField(),
                "entries": serializers.IntegerField(),
                "head": serializers.CharField(),
                "problems": serializers.ListField(child=serializers.CharField()),
            },
        )
    )
    def get(self, request):
        return Response(ledger.verify().as_dict())


def _review_out(review: Review) -> dict:
    return {
        "annotation": review.annotation_id,
        "project": review.project_id,
        "status": review.status,
        "reason": review.reason,
        "reviewed_at": review.reviewed_at.isoformat(),
        "appeal": review.appeal,
        "appeal_deadline": review.appeal_deadline.isoformat() if review.appeal_deadline else None,
        "decision_note": review.decision_note,
        "decided_at": review.decided_at.isoformat() if review.decided_at else None,
    }


REVIEW_OUT = inline_serializer("Review", {"annotation": ANY, "status": ANY, "reason": ANY})
REVIEW_ERRORS = {
    400: OpenApiResponse(ErrorOut, description="A reason or note is required."),
    404: OpenApiResponse(ErrorOut, description="No such annotation of a project you own."),
    409: OpenApiResponse(ErrorOut, description="Already reviewed, or nothing to decide."),
}


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, allow_blank=True)


class ApproveApi(APIView):
    permission_classes = [HasRole(Role.OWNER, Role.ADMIN)]

    @extend_schema(request=None, responses={201: REVIEW_OUT, **REVIEW_ERRORS})
    def post(self, request, annotation_id: int):
        review = services.annotation_approve(user=request.user, annotation_id=annotation_id)
        return Response(_review_out(review), status=201)


class RejectApi(APIView):
    """Reject with a written reason: the work is still paid at the floor for its time."""

    permission_classes = [HasRole(Role.OWNER, Role.ADMIN)]

    @extend_schema(request=ReasonIn, responses={201: REVIEW_OUT, **REVIEW_ERRORS})
    def post(self, request, annotation_id: int):
        data = ReasonIn(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.annotation_reject(
            user=request.user, annotation_id=annotation_id, reason=data.validated_data["reason"]
        )
        return Response(_review_out(review), status=201)


class AppealIn(serializers.Serializer):
    text = serializers.CharField(max_length=5000, allow_blank=True)


class AppealApi(APIView):
    """Appeal a rejection of your work; a person decides by the deadline."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(request=AppealIn, responses={200: REVIEW_OUT, **REVIEW_ERRORS})
    def post(self, request, annotation_id: int):
        data = AppealIn(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.appeal_submit(
            annotator=request.user, annotation_id=annotation_id, text=data.validated_data["text"]
        )
        return Response(_review_out(review))


class DecideIn(serializers.Serializer):
    overturn = serializers.BooleanField()
    note = serializers.CharField(max_length=5000, allow_blank=True)


class DecideApi(APIView):
    """Decide an appeal (owner or admin): overturn gives the price back."""

    permission_classes = [HasRole(Role.OWNER, Role.ADMIN)]

    @extend_schema(request=DecideIn, responses={200: REVIEW_OUT, **REVIEW_ERRORS})
    def post(self, request, annotation_id: int):
        data = DecideIn(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.appeal_decide(
            user=request.user,
            annotation_id=annotation_id,
            overturn=data.validated_data["overturn"],
            note=data.validated_data["note"],
        )
        return Response(_review_out(review))


class MyReviewsApi(APIView):
    """Your rejected work, its appeals and their deadlines."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(responses=inline_serializer("Reviews", {"reviews": ANY}))
    def get(self, request):
        rows = selectors.reviews_of_annotator(annotator=request.user)
        return Response({"reviews": [_review_out(r) for r in rows]})


class ReportIn(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    project = serializers.IntegerField(required=False, allow_null=True, min_value=1)


def report_out(request, job) -> dict:
    from django.urls import reverse

    done = job.status == "done"
    return {
        "id": job.pk,
        "status": job.status,
        "start": job.start.isoformat(),
        "end": job.end.isoformat(),
        "project": job.project_id,
        "summary": job.summary if done else None,
        "ledger_head": job.ledger_head or None,
        "ledger_last_entry": job.ledger_last_entry,
        "csv_url": request.build_absolute_uri(reverse("payments:report_csv", args=[job.pk]))
        if done
        else None,
        "html_url": request.build_absolute_uri(reverse("payments:report", args=[job.pk]))
        if done
        else None,
        "error": job.error or None,
    }


REPORT_OUT = inline_serializer(
    "Report", {"id": ANY, "status": ANY, "summary": ANY, "csv_url": ANY, "html_url": ANY}
)


class ReportsApi(APIView):
    """Run a report over a period (and optionally one project): 202 with the job."""

    permission_classes = [HasRole(Role.AUDITOR, Role.ADMIN)]

    @extend_schema(
        request=ReportIn,
        responses={
            202: REPORT_OUT,
            400: OpenApiResponse(
                ErrorOut, description="A period that does not end after it starts."
            ),
            404: OpenApiResponse(ErrorOut, description="No such project."),
        },
    )
    def post(self, request):
        from payments.reports import report_create

        data = ReportIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = None
        if data.validated_data.get("project"):
            project = project_get(user=request.user, project_id=data.validated_data["project"])
        job = report_create(
            user=request.user,
            start=data.validated_data["start"],
            end=data.validated_data["end"],
            project=project,
        )
        job.refresh_from_db()
        return Response(report_out(request, job), status=202)


class ReportApi(APIView):
    permission_classes = [HasRole(Role.AUDITOR, Role.ADMIN)]

    @extend_schema(
        responses={200: REPORT_OUT, 404: OpenApiResponse(ErrorOut, description="No such report.")}
    )
    def get(self, request, report_id: int):
        from django.http import Http404

        from payments.models import ReportJob

        job = ReportJob.objects.defer("csv", "details").filter(pk=report_id).first()
        if job is None:
            raise Http404
        return Response(report_out(request, job))


# --- worker voice ------------------------------------------------------------------------------


class VoiceIn(serializers.Serializer):
    # The rules (a known topic, a text of 1 to VOICE_TEXT_MAX characters) are the service's; the
    # serializer only bounds what it reads.
    topic = serializers.CharField(
        max_length=32, allow_blank=True, help_text="One of: " + ", ".join(VoiceTopic.values)
    )
    text = serializers.CharField(
        max_length=4 * VOICE_TEXT_MAX,
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"At most {VOICE_TEXT_MAX} characters.",
    )


class VoiceSendApi(APIView):
    """Send the auditors an anonymous message about a project (annotator). Nothing that names
    you, and no time finer than the week, is stored; the answer carries no id."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(
        request=VoiceIn,
        responses={
            201: inline_serializer(
                "VoiceReceived",
                {"status": serializers.CharField(), "week": serializers.DateField()},
            ),
            400: OpenApiResponse(ErrorOut, description="No topic, or an empty or long text."),
            404: OpenApiResponse(ErrorOut, description="No such project open to you."),
            429: OpenApiResponse(ErrorOut, description="This week's messages are all sent."),
        },
    )
    def post(self, request, project_id: int):
        data = VoiceIn(data=request.data)
        data.is_valid(raise_exception=True)
        week = services.voice_message_send(
            annotator=request.user,
            project_id=project_id,
            topic=data.validated_data["topic"],
            text=data.validated_data["text"],
        )
        response = Response({"status": "received", "week": week.isoformat()}, status=201)
        add_never_cache_headers(response)
        return response


class VoiceQuery(serializers.Serializer):
    project = serializers.IntegerField(required=False, min_value=1)
    week = serializers.DateField(required=False, help_text="Any day of the week wanted.")
    since = serializers.DateField(required=False, help_text="From the week of this day on.")


class VoicePageQuery(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, help_text="Page length.")
    offset = serializers.IntegerField(required=False, min_value=0)


class VoiceOut(serializers.Serializer):
    project = inline_serializer(
        "VoiceProject", {"id": serializers.IntegerField(), "title": serializers.CharField()}
    )
    week = serializers.DateField()
    topic = serializers.CharField()
    text = serializers.CharField()


def _voice_out(message) -> dict:
    return {
        "project": {"id": message.project_id, "title": message.project.title},
        "week": message.week.isoformat(),
        "topic": message.topic,
        "text": message.text,
    }


class VoiceListApi(APIView):
    """The annotators' anonymous messages (auditors and admins; never the project's owner),
    newest week first, in no order of sending. Paged like every list (limit, offset)."""

    permission_classes = [HasRole(Role.AUDITOR, Role.ADMIN)]

    @extend_schema(
        parameters=[VoiceQuery, VoicePageQuery],
        responses={
            200: inline_serializer(
                "VoicePage",
                {
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": VoiceOut(many=True),
                },
            ),
            400: OpenApiResponse(ErrorOut, description="A project or date that is not one."),
        },
    )
    def get(self, request):
        query = VoiceQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.voice_messages(
            project_id=query.validated_data.get("project"),
            week=query.validated_data.get("week"),
            since=query.validated_data.get("since"),
        )
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        response = paginator.get_paginated_response([_voice_out(m) for m in page])
        add_never_cache_headers(response)
        return response


# --- the annotator's work record -----------------------------------------------------------


class WorkRecordVerifyThrottle(LoginRateThrottle):
    """Per client address, failing open like the log-in limit (the check is only a read)."""

    scope = "work_record_verify"

    def get_rate(self) -> str:
        return settings.FAIRLABEL_WORK_RECORD_VERIFY_RATE


class MyWorkRecordApi(APIView):
    """Your work record (hours, tasks, earnings by project and UTC month) as a JSON file, with
    its hash and the ledger positions it covers. Anyone you give it to can check it at
    POST /api/work-records/verify/."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(
        responses={
            200: inline_serializer(
                "WorkRecord",
                {
                    "record": ANY,
                    "record_hash": serializers.CharField(),
                    "hash_algorithm": serializers.CharField(),
                    "canonical": serializers.CharField(),
                    "seal": serializers.CharField(),
                },
            ),
            400: OpenApiResponse(ErrorOut, description="invalid_cut: the page's token is stale"),
        },
        parameters=[
            OpenApiParameter(
                "cut",
                str,
                description="The record page's token: the same record as the page shows.",
            )
        ],
    )
    def get(self, request):
        document = work_record.work_record_of(
            annotator=request.user, cut=request.query_params.get("cut") or None
        )
        response = Response(document)
        filename = work_record.work_record_filename(document)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class WorkRecordVerifyApi(APIView):
    """Check a work record against the ledger (no sign-in): the JSON record as the body, or as
    a multipart `file`. At most 1 MB."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [WorkRecordVerifyThrottle]
    parser_classes = [MultiPartParser]  # a JSON body is read raw, below, to bound its size

    @extend_schema(
        request={
            "application/json": OpenApiTypes.OBJECT,
            "multipart/form-data": inline_serializer(
                "WorkRecordFile", {"file": serializers.FileField()}
            ),
        },
        responses={
            200: inline_serializer(
                "WorkRecordVerdict",
                {
                    "ok": serializers.BooleanField(),
                    "problems": serializers.ListField(child=serializers.JSONField()),
                    "checked": ANY,
                },
            ),
            400: OpenApiResponse(ErrorOut, description="Not JSON, or no file."),
            413: OpenApiResponse(ErrorOut, description="Over 1 MB."),
        },
    )
    def post(self, request):
        raw = work_record_upload(request)
        return Response(work_record.work_record_verify(document=work_record_parse(raw)))


def work_record_upload(request) -> bytes:
    """The uploaded record's bytes, refused over work_record.MAX_BYTES before it is read."""
    too_large = DomainError(
        "too_large",
        _("A work record is at most 1 MB; this upload is larger."),
        status=413,
        max_bytes=work_record.MAX_BYTES,
    )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    # Multipart framing adds a little around the file.
    if length > work_record.MAX_BYTES + 64 * 1024:
        raise too_large
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith("multipart/form-data"):
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError("file_required", _("Attach the work record as `file`."), field="file")
        if upload.size > work_record.MAX_BYTES:
            raise too_large
        return upload.read(work_record.MAX_BYTES + 1)
    raw = request.body
    if len(raw) > work_record.MAX_BYTES:
        raise too_large
    return raw


def work_record_parse(raw: bytes):
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DomainError(
            "invalid_json", _("This file is not JSON: a work record is a .json file.")
        ) from exc
    try:
        json_check(document)
    except ParseError as exc:
        raise DomainError("invalid_json", str(exc.detail)) from exc
    return document
