"""Working-time API: heartbeats and breaks (annotators only; thin views over services)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasRole
from accounts.roles import Role
from fairlabel.api_errors import ErrorOut
from labeling.models import Category
from labeling.selectors import project_get
from workers import selectors, services
from workers.models import BLUR_MAX_PX, BLUR_MIN_PX, WorkSpan

STANDING_OUT = inline_serializer(
    "WorkStanding",
    {
        "today_seconds": serializers.CharField(help_text="Work counted today (decimal seconds)."),
        "today_break_seconds": serializers.CharField(),
        "paid_seconds_today": serializers.CharField(help_text="Work plus breaks today."),
        "week_seconds": serializers.CharField(),
        "break_until": serializers.DateTimeField(allow_null=True),
        "break_kind": serializers.CharField(allow_null=True),
        "next_break_in_seconds": serializers.CharField(allow_null=True),
        "refusal": serializers.JSONField(allow_null=True),
    },
)


BIGINT_MAX = 2**63 - 1


class HeartbeatIn(serializers.Serializer):
    project = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=BIGINT_MAX
    )
    assignment = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=BIGINT_MAX
    )
    kind = serializers.ChoiceField(choices=WorkSpan.Kind.choices, default=WorkSpan.Kind.TASK)

    def validate(self, attrs):
        if attrs.get("kind") == WorkSpan.Kind.INSTRUCTIONS and not attrs.get("project"):
            raise serializers.ValidationError({"project": "Say which project's instructions."})
        return attrs


class HeartbeatApi(APIView):
    """The labeling page is open and used: send every 30 s. Counts working time, keeps the held
    task alive, and answers today's time, the next break and the break in progress."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(request=HeartbeatIn, responses=STANDING_OUT)
    def post(self, request):
        data = HeartbeatIn(data=request.data)
        data.is_valid(raise_exception=True)
        standing = services.heartbeat_record(
            annotator=request.user,
            project_id=data.validated_data.get("project"),
            assignment_id=data.validated_data.get("assignment"),
            kind=data.validated_data["kind"],
        )
        return Response(standing.as_dict())

    @extend_schema(responses=STANDING_OUT, operation_id="heartbeat_standing")
    def get(self, request):
        return Response(services.work_standing(annotator=request.user).as_dict())


class BreakIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[(k, k) for k in services.BREAK_KINDS], default="break")


class BreakApi(APIView):
    """Take a break now (`"break"`), a recovery break from sensitive work (`"recovery"`), or
    stop sensitive work for today (`"stop_sensitive_today"`): effective at once."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(
        request=BreakIn,
        responses={
            201: STANDING_OUT,
            409: OpenApiResponse(ErrorOut, description="Already on a break."),
        },
    )
    def post(self, request):
        data = BreakIn(data=request.data)
        data.is_valid(raise_exception=True)
        standing = services.break_take(annotator=request.user, kind=data.validated_data["kind"])
        return Response(standing.as_dict(), status=201)


class ConsentIn(serializers.Serializer):
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=Category.choices), allow_empty=True
    )


CONSENT_OUT = inline_serializer(
    "Consent",
    {
        "project": serializers.IntegerField(),
        "categories": serializers.ListField(
            child=serializers.JSONField(), help_text="[{name, label, consented}]"
        ),
        "consented": serializers.ListField(child=serializers.CharField()),
        "decided": serializers.BooleanField(),
        "support": serializers.CharField(),
    },
)


class ConsentApi(APIView):
    """What a project's content may hold and what you agreed to see. POST the categories you
    agree to (fewer than before: a withdrawal, at once, without penalty)."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(responses=CONSENT_OUT)
    def get(self, request, project_id: int):
        project = project_get(user=request.user, project_id=project_id)
        return Response(selectors.consent_of(annotator=request.user, project=project))

    @extend_schema(request=ConsentIn, responses=CONSENT_OUT)
    def post(self, request, project_id: int):
        project = project_get(user=request.user, project_id=project_id)
        data = ConsentIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.consent_set(
            annotator=request.user, project=project, categories=data.validated_data["categories"]
        )
        return Response(selectors.consent_of(annotator=request.user, project=project))


class BreakEndApi(APIView):
    """End a break you chose to take; a break due by the rules runs its full length (409)."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(
        request=None,
        responses={
            200: STANDING_OUT,
            409: OpenApiResponse(ErrorOut, description="No break to end, or one due by the rules."),
        },
    )
    def post(self, request):
        return Response(services.break_end(annotator=request.user).as_dict())


class DisplayIn(serializers.Serializer):
    blur_px = serializers.IntegerField(
        min_value=BLUR_MIN_PX,
        max_value=BLUR_MAX_PX,
        help_text="Blur of sensitive images, in CSS pixels.",
    )


DISPLAY_OUT = inline_serializer("DisplayPreference", {"blur_px": serializers.IntegerField()})


class DisplayApi(APIView):
    """How you want sensitive content shown: your blur strength for sensitive images. The next
    task's `protect.blur_px` carries it, so the first paint is blurred your way."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=DISPLAY_OUT, operation_id="display_preference")
    def get(self, request):
        return Response(selectors.display_preferences(user_id=request.user.pk))

    @extend_schema(request=DisplayIn, responses=DISPLAY_OUT)
    def put(self, request):
        data = DisplayIn(data=request.data)
        data.is_valid(raise_exception=True)
        preference = services.display_preference_set(
            user=request.user, blur_px=data.validated_data["blur_px"]
        )
        return Response({"blur_px": preference.blur_px})
