from django.urls import path

import fairlabel.converters  # noqa: F401  (registers <id:...>)
from labeling.importing import api

urlpatterns = [
    path(
        "projects/<id:project_id>/imports/",
        api.ProjectImportsApi.as_view(),
        name="project-imports",
    ),
    path("imports/<id:import_id>/", api.ImportDetailApi.as_view(), name="import"),
]
