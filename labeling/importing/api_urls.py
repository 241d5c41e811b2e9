from django.urls import path

from labeling.importing import api

urlpatterns = [
    path(
        "projects/<int:project_id>/imports/",
        api.ProjectImportsApi.as_view(),
        name="project-imports",
    ),
    path("imports/<int:import_id>/", api.ImportDetailApi.as_view(), name="import"),
]
