"""OpenAPI generation: drf-spectacular's, plus the error answers every operation can give.

Each view documents its own successes and domain refusals (409 from the dispatcher, 413 for a
large import...); the answers that come from the framework for every view are added here, in the
error shape of fairlabel.api_errors, so that the schema says what the API really does:
400 when the operation takes input, 401 and 403 when it needs a role, 404 when it names an
object in its path, 429 when it is throttled."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny

from fairlabel.api_errors import ErrorOut

_DESCRIPTIONS = {
    "400": "The input is refused; `fields` holds the messages per field.",
    "401": "No valid credentials (a token or a session).",
    "403": "Your role may not do this.",
    "404": "No such object, or not one you may see.",
    "429": "Too many requests: wait `retry_after` seconds.",
}


class AutoSchema(openapi.AutoSchema):
    def _error_codes(self) -> list[str]:
        codes = []
        takes_input = self.method in ("POST", "PUT", "PATCH") or self._is_list_view()
        if takes_input:
            codes.append("400")
        public = any(isinstance(permission, AllowAny) for permission in self.view.get_permissions())
        if not public:
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        if getattr(self.view, "throttle_classes", None):
            codes.append("429")
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorOut, description=_DESCRIPTIONS[code]),
                    code,
                    media_types=["application/json"],
                    direction=direction,
                )
        return responses


def _links(**targets: tuple[str, str, str]) -> dict:
    """name=(operationId, path parameter, field of the response body) -> OpenAPI links."""
    return {
        name: {"operationId": operation, "parameters": {parameter: f"$response.body#/{field}"}}
        for name, (operation, parameter, field) in targets.items()
    }


def _project(operation: str) -> tuple[str, str, str]:
    return (operation, "project_id", "id")


def _export(operation: str) -> tuple[str, str, str]:
    return (operation, "job_id", "id")


# How one answer leads to the next call: for clients, and for schemathesis' stateful runs.
LINKS = {
    ("projects_create", "201"): _links(
        GetProject=_project("projects_retrieve"),
        EditProject=_project("projects_partial_update"),
        PublishProject=_project("projects_publish_create"),
        PauseProject=_project("projects_pause_create"),
        ImportTasks=_project("imports_create"),
        ExportLabels=_project("projects_exports_create"),
        ProjectAnnotators=_project("projects_annotators_retrieve"),
    ),
    ("projects_publish_create", "200"): _links(NextTask=_project("projects_next_create")),
    ("projects_next_create", "200"): _links(
        Submit=("assignments_submit_create", "assignment_id", "assignment"),
        Skip=("assignments_skip_create", "assignment_id", "assignment"),
    ),
    ("projects_exports_create", "202"): _links(
        GetExport=_export("exports_retrieve"),
        Download=_export("exports_download_retrieve"),
        Provenance=_export("exports_provenance_retrieve"),
        Zip=_export("exports_zip_retrieve"),
    ),
    ("imports_create", "202"): _links(GetImport=("imports_retrieve", "import_id", "id")),
}


def add_links(result, generator, request, public):
    """drf-spectacular post-processing hook: the LINKS above into the responses."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                links = LINKS.get((operation.get("operationId"), code))
                if links:
                    response["links"] = links
    return result
