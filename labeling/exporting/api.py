"""The export API: start a job, follow it, download its file, provenance record or both zipped.
Downloads are served here, after the permission check, never from MEDIA_URL."""

from __future__ import annotations

from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasRole
from accounts.roles import Role
from labeling.exporting import selectors, services
from labeling.jobs.api import JobOut
from labeling.models import ExportFormat, ExportJob, JobStatus
from labeling.selectors import project_owned

OWNERS = HasRole(Role.OWNER, Role.ADMIN)


class ExportIn(serializers.Serializer):
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    only_finished = serializers.BooleanField(required=False, default=False)
    majority = serializers.BooleanField(required=False, default=False)


class ExportOut(JobOut):
    format = serializers.CharField()
    only_finished = serializers.BooleanField()
    majority = serializers.BooleanField()
    total = serializers.IntegerField()
    exported = serializers.IntegerField()
    error = serializers.CharField()
    download_url = serializers.SerializerMethodField()
    provenance_url = serializers.SerializerMethodField()
    zip_url = serializers.SerializerMethodField()

    def _url(self, job: ExportJob, name: str) -> str | None:
        if job.status != JobStatus.DONE:
            return None
        url = reverse(name, kwargs={"job_id": job.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url

    def get_download_url(self, job: ExportJob) -> str | None:
        return self._url(job, "api:export-download")

    def get_provenance_url(self, job: ExportJob) -> str | None:
        return self._url(job, "api:export-provenance")

    def get_zip_url(self, job: ExportJob) -> str | None:
        return self._url(job, "api:export-zip")


class ExportCreateApi(APIView):
    """Start an export of the project: 202 with the job; 400 when the format does not fit
    the task type (CoNLL 2003 is for text_spans, COCO for image_boxes)."""

    permission_classes = [OWNERS]

    @extend_schema(request=ExportIn, responses={202: ExportOut})
    def post(self, request, project_id: int):
        project = project_owned(user=request.user, project_id=project_id)
        data = ExportIn(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.export_job_create(
            project=project,
            user=request.user,
            fmt=data.validated_data["format"],
            only_finished=data.validated_data["only_finished"],
            majority=data.validated_data["majority"],
        )
        job.refresh_from_db()  # eager Celery (tests, demos) may already have finished it
        return Response(
            ExportOut(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class ExportDetailApi(APIView):
    """An export job: status, progress and, once done, its download URLs."""

    permission_classes = [OWNERS]

    @extend_schema(responses=ExportOut)
    def get(self, request, job_id: int):
        job = selectors.export_job_owned(user=request.user, job_id=job_id)
        return Response(ExportOut(job, context={"request": request}).data)


class _AnyRenderer(BaseRenderer):
    """Lets a download be asked for with any Accept header; errors stay JSON."""

    media_type = "*/*"
    format = "download"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class _DownloadApi(APIView):
    permission_classes = [OWNERS]
    renderer_classes = [JSONRenderer, _AnyRenderer]
    kind = "file"

    def handle_exception(self, exc):
        # An error is JSON whatever the client accepts: the file's type is for the file only.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.ANY, description="json, label_studio and coco exports; provenance"
            ),
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "text/plain"): OpenApiTypes.STR,
            (200, "application/zip"): OpenApiTypes.BINARY,
        }
    )
    def get(self, request, job_id: int):
        job = selectors.export_job_ready(user=request.user, job_id=job_id)
        name = selectors.export_filename(job, self.kind)
        if self.kind == "zip":
            response = StreamingHttpResponse(
                selectors.export_zip_stream(job), content_type="application/zip"
            )
            response["Content-Disposition"] = content_disposition_header(True, name)
            return response
        if self.kind == "provenance":
            field, content_type = job.provenance, "application/json"
        else:
            field, content_type = job.file, services.export_content_type(job.format)
        return FileResponse(
            field.open("rb"), as_attachment=True, filename=name, content_type=content_type
        )


class ExportDownloadApi(_DownloadApi):
    """The export file, in its format."""

    kind = "file"


class ExportProvenanceApi(_DownloadApi):
    """The labor-provenance record (JSON) of the export."""

    kind = "provenance"


class ExportZipApi(_DownloadApi):
    """The export file and its provenance record in one zip."""

    kind = "zip"
