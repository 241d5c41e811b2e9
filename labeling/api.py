"""The labeling API: thin views over services and selectors."""

from __future__ import annotations

from django.db import DatabaseError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasRole
from accounts.roles import Role, role_of
from fairlabel.api_errors import ErrorOut
from fairlabel.errors import DomainError
from labeling import dispatch, selectors, services
from labeling.exporting.selectors import fairness_card_url
from labeling.models import Category, Project, TaskType

ALL_ROLES = (Role.ANNOTATOR, Role.OWNER, Role.AUDITOR, Role.ADMIN)
# Who is given the link of a project's public fairness card (owners only see their projects).
CARD_READERS = (Role.OWNER, Role.AUDITOR, Role.ADMIN)


class DecimalString(serializers.CharField):
    """Money comes as a decimal string ("0.10"); a JSON float is refused, never rounded."""

    def to_internal_value(self, data):
        if isinstance(data, float):
            raise serializers.ValidationError('Send a decimal string, like "0.10", not a float.')
        return super().to_internal_value(data)


_LABEL_VALUE = {"type": "string", "minLength": 1, "maxLength": 100}
_LABEL_PROPERTIES = {
    "value": _LABEL_VALUE,
    "color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
    "hotkey": {"type": "string", "maxLength": 1},
}


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "maxItems": 200,
        "items": {
            "anyOf": [
                _LABEL_VALUE,
                {"type": "object", "properties": _LABEL_PROPERTIES, "required": ["value"]},
            ]
        },
    }
)
class LabelsInField(serializers.JSONField):
    """Labels as given: strings, or {"value", "color"?, "hotkey"?} objects."""


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": _LABEL_PROPERTIES,
            "required": ["value", "color", "hotkey"],
        },
    }
)
class LabelsOutField(serializers.JSONField):
    """Labels as stored: every one with its colour and hotkey ("" when it has none)."""


def _result_of(title: str, key: str, value: dict) -> dict:
    return {"title": title, "type": "object", "properties": {key: value}, "required": [key]}


_NAMED = {"label": {"type": "string"}}
_RESULT_SCHEMA = {
    "description": "The result of the project's task type (DESIGN.md, task types).",
    "anyOf": [
        _result_of("Classification", "label", {"type": "string"}),
        _result_of("MultiLabel", "labels", {"type": "array", "items": {"type": "string"}}),
        _result_of(
            "Spans",
            "spans",
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "start": {"type": "integer", "minimum": 0},
                        "end": {"type": "integer", "minimum": 1},
                        **_NAMED,
                    },
                    "required": ["start", "end", "label"],
                },
            },
        ),
        _result_of(
            "Boxes",
            "boxes",
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "x": {"type": "number", "minimum": 0},
                        "y": {"type": "number", "minimum": 0},
                        "w": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                        "h": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                        **_NAMED,
                    },
                    "required": ["x", "y", "w", "h", "label"],
                },
            },
        ),
    ],
}


@extend_schema_field(_RESULT_SCHEMA)
class ResultField(serializers.JSONField):
    """An annotation's result, checked against the task type by labeling.results."""


class ProjectIn(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    instructions = serializers.CharField(required=False, allow_blank=True, default="")
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    labels = LabelsInField(help_text='List of strings, or of {"value", "color"?, "hotkey"?}.')
    annotations_per_task = serializers.IntegerField(
        required=False, default=1, min_value=1, max_value=50
    )
    content_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=Category.choices), required=False, default=list
    )
    price_per_task = DecimalString(help_text='A decimal string, like "0.10".')
    estimated_seconds_per_task = serializers.IntegerField(min_value=1, max_value=86400)


class ProjectPatchIn(ProjectIn):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)


class ProjectOut(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    instructions = serializers.CharField()
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    labels = LabelsOutField()
    annotations_per_task = serializers.IntegerField()
    content_categories = serializers.ListField(child=serializers.CharField())
    price_per_task = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    estimated_seconds_per_task = serializers.IntegerField()
    implied_hourly = serializers.SerializerMethodField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)

    def get_implied_hourly(self, project: Project) -> str:
        return selectors.project_rate(project)


class ProjectDetailOut(ProjectOut):
    progress = serializers.SerializerMethodField()
    fairness_card_url = serializers.SerializerMethodField(
        help_text="The project's public fairness card, to share (owners, auditors, admins; "
        "null for annotators)."
    )

    def get_progress(self, project: Project) -> dict:
        return selectors.project_progress(project)

    def get_fairness_card_url(self, project: Project) -> str | None:
        request = self.context.get("request")
        if request is None or role_of(request.user) not in CARD_READERS:
            return None
        return fairness_card_url(project, request=request)


class ProjectListApi(GenericAPIView):
    """Projects the caller may see; owners create them."""

    serializer_class = ProjectOut

    def get_permissions(self):
        roles = (Role.OWNER, Role.ADMIN) if self.request.method == "POST" else ALL_ROLES
        return [HasRole(*roles)()]

    def get_queryset(self):
        return selectors.projects_visible_to(self.request.user)

    @extend_schema(operation_id="projects_list", responses=ProjectOut(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProjectOut(page, many=True).data)

    @extend_schema(request=ProjectIn, responses={201: ProjectDetailOut})
    def post(self, request):
        data = ProjectIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(owner=request.user, **data.validated_data)
        return Response(
            ProjectDetailOut(project, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ProjectDetailApi(APIView):
    """A project with its progress and implied hourly rate; owners edit theirs."""

    def get_permissions(self):
        roles = ALL_ROLES if self.request.method == "GET" else (Role.OWNER, Role.ADMIN)
        return [HasRole(*roles)()]

    @extend_schema(responses=ProjectDetailOut)
    def get(self, request, project_id: int):
        project = selectors.project_get(user=request.user, project_id=project_id)
        return Response(ProjectDetailOut(project, context={"request": request}).data)

    @extend_schema(request=ProjectPatchIn, responses=ProjectDetailOut)
    def patch(self, request, project_id: int):
        project = selectors.project_owned(user=request.user, project_id=project_id)
        data = ProjectPatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_update(project=project, **data.validated_data)
        return Response(ProjectDetailOut(project, context={"request": request}).data)


class ProjectPublishApi(APIView):
    """Publish: 200, or 400 with the rule that blocks it."""

    permission_classes = [HasRole(Role.OWNER, Role.ADMIN)]

    @extend_schema(request=None, responses=ProjectDetailOut)
    def post(self, request, project_id: int):
        project = selectors.project_owned(user=request.user, project_id=project_id)
        project = services.project_publish(project=project)
        return Response(ProjectDetailOut(project, context={"request": request}).data)


class ProjectPauseApi(APIView):
    permission_classes = [HasRole(Role.OWNER, Role.ADMIN)]

    @extend_schema(request=None, responses=ProjectDetailOut)
    def post(self, request, project_id: int):
        project = selectors.project_owned(user=request.user, project_id=project_id)
        return Response(
            ProjectDetailOut(
                services.project_pause(project=project), context={"request": request}
            ).data
        )


class ProjectAnnotatorsApi(APIView):
    """Work per pseudonym on a project (owners and auditors)."""

    permission_classes = [HasRole(Role.OWNER, Role.AUDITOR, Role.ADMIN)]

    @extend_schema(
        responses=inline_serializer(
            "ProjectAnnotators",
            {
                "annotators": serializers.ListField(child=serializers.JSONField()),
                "progress": serializers.JSONField(),
            },
        )
    )
    def get(self, request, project_id: int):
        project = selectors.project_get(user=request.user, project_id=project_id)
        return Response(
            {
                "annotators": selectors.project_annotators(project),
                "progress": selectors.project_progress(project),
            }
        )


class TaskDetailApi(APIView):
    """One task with all its annotations (owners and auditors)."""

    permission_classes = [HasRole(Role.OWNER, Role.AUDITOR, Role.ADMIN)]

    @extend_schema(
        responses=inline_serializer(
            "TaskDetail",
            {
                "id": serializers.IntegerField(),
                "external_id": serializers.CharField(allow_null=True),
                "data": serializers.JSONField(),
                "categories": serializers.ListField(),
                "annotation_count": serializers.IntegerField(),
                "annotations": serializers.ListField(child=serializers.JSONField()),
                "flags": serializers.ListField(child=serializers.JSONField()),
            },
        )
    )
    def get(self, request, project_id: int, task_id: int):
        project = selectors.project_get(user=request.user, project_id=project_id)
        task = get_object_or_404(project.tasks, pk=task_id)
        return Response(
            {
                "id": task.pk,
                "external_id": task.external_id,
                "data": task.data,
                "categories": dispatch.task_categories(task=task, project=project),
                "annotation_count": task.annotation_count,
                "annotations": selectors.task_annotations(task),
                "flags": selectors.task_flags(task),
            }
        )


NEXT_OUT = inline_serializer(
    "NextTask",
    {
        "assignment": serializers.IntegerField(),
        "task": serializers.JSONField(),
        "categories": serializers.ListField(child=serializers.CharField()),
        "protect": serializers.JSONField(),
        "expires_at": serializers.DateTimeField(),
    },
)


class NextTaskApi(APIView):
    """The next task for the calling annotator: 200, 204 when none is left, 409 when a rule
    refuses (with the rule and until when)."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(
        request=None,
        responses={
            200: NEXT_OUT,
            204: OpenApiResponse(description="Nothing left for you in this project."),
            409: OpenApiResponse(ErrorOut, description="A rule refuses: until when, and why."),
        },
    )
    def post(self, request, project_id: int):
        # Not project_get: a paused project must answer 409 with its rule, not 404.
        project = get_object_or_404(
            Project.objects.exclude(status=Project.Status.DRAFT).defer("instructions"),
            pk=project_id,
        )
        code, payload = next_for(annotator=request.user, project=project)
        return Response(payload, status=code)


def next_for(*, annotator, project: Project) -> tuple[int, dict | None]:
    """The next task as (HTTP status, body): 200 and the assignment, 204, or 409 and why."""
    try:
        assignment = dispatch.assignment_next(annotator=annotator, project=project)
    except DomainError as exc:
        return exc.status_code, exc.as_dict()
    if assignment is None:
        return status.HTTP_204_NO_CONTENT, None
    return status.HTTP_200_OK, selectors.assignment_payload(assignment, project)


def with_next(body: dict, *, wanted: bool, annotator, project: Project) -> dict:
    """`"next": true` in a submit or skip: the next task comes back in the same response,
    `{"status", "body"}` as POST .../next/ would answer, so the page waits one round trip."""
    if wanted:
        try:
            code, payload = next_for(annotator=annotator, project=project)
        except DatabaseError:
            # The submit or skip is committed; only the next task failed: ask for it again.
            code, payload = 503, {"error": "retry", "detail": "Ask for the next task again."}
        body["next"] = {"status": code, "body": payload}
    return body


class ImageSizeIn(serializers.Serializer):
    width = serializers.IntegerField(min_value=1, max_value=1_000_000)
    height = serializers.IntegerField(min_value=1, max_value=1_000_000)


class SubmitIn(serializers.Serializer):
    result = ResultField()
    next = serializers.BooleanField(
        required=False, default=False, help_text="Also claim and return the next task."
    )
    image_size = ImageSizeIn(
        required=False,
        help_text="Image tasks: the image's size in pixels as the client read it; kept in "
        "the task's data when the data does not give width and height.",
    )


class SkipIn(serializers.Serializer):
    next = serializers.BooleanField(required=False, default=False)


ANNOTATION_OUT = inline_serializer(
    "AnnotationOut",
    {
        "id": serializers.IntegerField(),
        "assignment": serializers.IntegerField(),
        "task": serializers.IntegerField(),
        "result": ResultField(),
        "seconds": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        "is_extra": serializers.BooleanField(),
    },
)


class SubmitApi(APIView):
    """Submit a result: 201; the same again: 200 with the same annotation; after the slot went
    to someone else: 409, and the work is kept as an extra annotation."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(
        request=SubmitIn,
        responses={
            201: ANNOTATION_OUT,
            200: ANNOTATION_OUT,
            409: OpenApiResponse(
                ErrorOut,
                description="slot_taken: the work is kept as an extra annotation "
                "(`annotation`); or the assignment is no longer open.",
            ),
        },
    )
    def post(self, request, assignment_id: int):
        data = SubmitIn(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = dispatch.annotation_submit(
            annotator=request.user,
            assignment_id=assignment_id,
            result=data.validated_data["result"],
            image_size=(
                (size["width"], size["height"])
                if (size := data.validated_data.get("image_size"))
                else None
            ),
        )
        annotation = outcome.annotation
        body = {
            "id": annotation.pk,
            "assignment": annotation.assignment_id,
            "task": annotation.task_id,
            "result": annotation.result,
            "seconds": str(annotation.seconds),
            "created_at": annotation.created_at,
            "is_extra": annotation.is_extra,
        }
        if outcome.is_extra:
            body = {
                "error": "slot_taken",
                "detail": (
                    "Your assignment expired and its slot went to someone else. "
                    "Your work is kept as an extra annotation."
                ),
                "annotation": body,
            }
            code = status.HTTP_409_CONFLICT
        else:
            code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        with_next(
            body,
            wanted=data.validated_data["next"],
            annotator=request.user,
            project=annotation.project,
        )
        return Response(body, status=code)


class SkipApi(APIView):
    """Skip a task: no penalty, and it is not shown to you again."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(
        request=SkipIn,
        responses={
            200: inline_serializer(
                "SkipOut",
                {"assignment": serializers.IntegerField(), "status": serializers.CharField()},
            ),
            409: OpenApiResponse(ErrorOut, description="The task was already submitted."),
        },
    )
    def post(self, request, assignment_id: int):
        data = SkipIn(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = dispatch.assignment_skip(annotator=request.user, assignment_id=assignment_id)
        body = {"assignment": assignment.pk, "status": assignment.status}
        with_next(
            body,
            wanted=data.validated_data["next"],
            annotator=request.user,
            project=assignment.project,
        )
        return Response(body)


class FlagIn(serializers.Serializer):
    category = serializers.ChoiceField(choices=Category.choices)


class FlagApi(APIView):
    """Flag the task of your assignment as disturbing (`{"category"}`): from now on the task
    carries that category for everyone, with its protections."""

    permission_classes = [HasRole(Role.ANNOTATOR)]

    @extend_schema(
        request=FlagIn,
        responses=inline_serializer(
            "FlagOut",
            {"assignment": serializers.IntegerField(), "categories": serializers.ListField()},
        ),
    )
    def post(self, request, assignment_id: int):
        data = FlagIn(data=request.data)
        data.is_valid(raise_exception=True)
        categories = services.task_flag(
            annotator=request.user,
            assignment_id=assignment_id,
            category=data.validated_data["category"],
        )
        return Response({"assignment": assignment_id, "categories": categories})
