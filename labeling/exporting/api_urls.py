from django.urls import path

import fairlabel.converters  # noqa: F401  (registers <id:...>)
from labeling.exporting import api

urlpatterns = [
    path("projects/<id:project_id>/exports/", api.ExportCreateApi.as_view(), name="export-create"),
    path("exports/<id:job_id>/", api.ExportDetailApi.as_view(), name="export"),
    path("exports/<id:job_id>/download/", api.ExportDownloadApi.as_view(), name="export-download"),
    path(
        "exports/<id:job_id>/provenance/",
        api.ExportProvenanceApi.as_view(),
        name="export-provenance",
    ),
    path("exports/<id:job_id>/zip/", api.ExportZipApi.as_view(), name="export-zip"),
]
