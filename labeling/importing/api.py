"""The import API: thin views over the import services and selectors."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasRole
from accounts.roles import Role
from labeling.importing import selectors, services
from labeling.jobs.api import JobOut
from labeling.models import ImportFormat
from labeling.selectors import project_owned


class ImportIn(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=f"One of {', '.join(ImportFormat.values)}; detected from the file name when "
        "absent.",
    )
    media = serializers.FileField(
        required=False,
        help_text="Image projects: a zip of the images the tasks reference by paths a browser "
        "cannot load (Label Studio's /data/upload/..., /data/local-files/?d=..., s3://...).",
    )
    media_base_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Image projects: the http(s) address those images are served from; each "
        "reference's path is appended to it.",
    )


class ImportErrorOut(serializers.Serializer):
    line = serializers.JSONField(
        help_text="The line number, or the zip member's name, or null for the whole file."
    )
    message = serializers.CharField()


class ImportOut(JobOut):
    format = serializers.CharField()
    original_name = serializers.CharField()
    total = serializers.IntegerField(help_text="Rows read so far.")
    imported = serializers.IntegerField(help_text="Tasks committed: 0 until the import ends.")
    errors = ImportErrorOut(many=True, help_text="At most FAIRLABEL_IMPORT_MAX_ERRORS.")
    error_count = serializers.IntegerField()
    bytes_read = serializers.IntegerField()
    size_bytes = serializers.IntegerField()


class ProjectImportsApi(APIView):
    """Upload a file of tasks: the import runs as a job; poll GET /api/imports/{id}/."""

    permission_classes = [HasRole(Role.OWNER, Role.ADMIN)]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="imports_create",
        request={"multipart/form-data": ImportIn},
        responses={202: ImportOut},
    )
    def post(self, request, project_id: int):
        project = project_owned(user=request.user, project_id=project_id)
        data = ImportIn(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.import_job_create(
            project=project,
            user=request.user,
            file=data.validated_data["file"],
            fmt=data.validated_data.get("format") or None,
            media=data.validated_data.get("media"),
            media_base_url=data.validated_data.get("media_base_url") or "",
        )
        job.refresh_from_db()
        return Response(
            ImportOut(services.import_job_payload(job)).data, status=status.HTTP_202_ACCEPTED
        )


class ImportDetailApi(APIView):
    """An import job's status, progress and errors; only the project's owner sees it."""

    permission_classes = [HasRole(Role.OWNER, Role.ADMIN)]

    @extend_schema(operation_id="imports_retrieve", responses={200: ImportOut})
    def get(self, request, import_id: int):
        job = selectors.import_job_get(user=request.user, job_id=import_id)
        return Response(ImportOut(services.import_job_payload(job)).data)
