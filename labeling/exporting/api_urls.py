from django.urls import path

from labeling.exporting import api

urlpatterns = [
    path("projects/<int:project_id>/exports/", api.ExportCreateApi.as_view(), name="export-create"),
    path("exports/<int:job_id>/", api.ExportDetailApi.as_view(), name="export"),
    path("exports/<int:job_id>/download/", api.ExportDownloadApi.as_view(), name="export-download"),
    path(
        "exports/<int:job_id>/provenance/",
        api.ExportProvenanceApi.as_view(),
        name="export-provenance",
    ),
    path("exports/<int:job_id>/zip/", api.ExportZipApi.as_view(), name="export-zip"),
]
