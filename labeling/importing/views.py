"""Pages of importing: the upload form's endpoint, the progress fragment htmx polls, and the
permission-checked view that serves images imported from a zip."""

from __future__ import annotations

import mimetypes
from functools import wraps

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import RoleTokenAuthentication
from accounts.permissions import role_required
from accounts.roles import Role, role_of
from fairlabel.errors import DomainError
from labeling.importing import selectors, services
from labeling.importing.images import TOKEN_RE, storage_prefix
from labeling.policies import image_task_allowed
from labeling.selectors import project_get, project_owned

OWNERS = (Role.OWNER, Role.ADMIN)
EVERYONE = (Role.ANNOTATOR, Role.OWNER, Role.AUDITOR, Role.ADMIN)
STATUS_TEMPLATE = "labeling/import_status.html"


@role_required(*OWNERS)
@require_POST
def import_upload(request, project_id: int):
    project = project_owned(user=request.user, project_id=project_id)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise DomainError("invalid", "Choose a file to import.")
        job = services.import_job_create(
            project=project,
            user=request.user,
            file=upload,
            fmt=request.POST.get("format") or None,
            media=request.FILES.get("media"),
            media_base_url=request.POST.get("media_base_url") or "",
        )
    except DomainError as exc:
        if request.htmx:
            return render(request, STATUS_TEMPLATE, {"problem": exc.detail})
        messages.error(request, exc.detail)
        return redirect("labeling:project_detail", project_id=project.pk)
    if request.htmx:
        job.refresh_from_db()
        return render(request, STATUS_TEMPLATE, selectors.import_job_view(job))
    return redirect("labeling:project_detail", project_id=project.pk)


@role_required(*OWNERS)
@require_GET
def import_latest(request, project_id: int):
    project = project_owned(user=request.user, project_id=project_id)
    job = selectors.import_job_latest(project=project)
    if job is None:
        return HttpResponse("")
    return render(request, STATUS_TEMPLATE, selectors.import_job_view(job))


@role_required(*OWNERS)
@require_GET
def import_status(request, job_id: int):
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    return render(request, STATUS_TEMPLATE, selectors.import_job_view(job))


def _token_auth(view):
    """API clients fetch images with their token (`Authorization: Token KEY`), as the API."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.META.get("HTTP_AUTHORIZATION", "").startswith("Token "):
            try:
                found = RoleTokenAuthentication().authenticate(request)
            except AuthenticationFailed:
                return HttpResponse(status=401)
            if found is not None:
                request.user = found[0]
        return view(request, *args, **kwargs)

    return wrapped


@_token_auth
@role_required(*EVERYONE)
@require_GET
def import_image(request, project_id: int, token: str, name: str):
    """An image imported from a zip, to its project's owner, auditors and admins, and to an
    annotator who holds (or held) an assignment of its task while the project is published and
    the checks named in FAIRLABEL_TASK_ACCESS_CHECKS (consent for the task's categories) pass."""
    project = project_get(user=request.user, project_id=project_id)
    if not TOKEN_RE.match(token) or ".." in name.split("/") or name.startswith("/"):
        raise Http404
    if role_of(request.user) == Role.ANNOTATOR and not image_task_allowed(
        user=request.user,
        project=project,
        url=reverse("labeling:import_image", args=[project.pk, token, name]),
    ):
        raise Http404
    path = storage_prefix(project.pk, token) + name
    if not default_storage.exists(path):
        raise Http404
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if not content_type.startswith("image/") or content_type == "image/svg+xml":
        content_type = "application/octet-stream"
    response = FileResponse(default_storage.open(path, "rb"), content_type=content_type)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    patch_cache_control(response, private=True, max_age=3600)
    return response
