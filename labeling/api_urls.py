from django.urls import path

import fairlabel.converters  # noqa: F401  (registers <id:...>)
from labeling import api

urlpatterns = [
    path("projects/", api.ProjectListApi.as_view(), name="projects"),
    path("projects/<id:project_id>/", api.ProjectDetailApi.as_view(), name="project"),
    path(
        "projects/<id:project_id>/publish/",
        api.ProjectPublishApi.as_view(),
        name="project-publish",
    ),
    path("projects/<id:project_id>/pause/", api.ProjectPauseApi.as_view(), name="project-pause"),
    path(
        "projects/<id:project_id>/annotators/",
        api.ProjectAnnotatorsApi.as_view(),
        name="project-annotators",
    ),
    path("projects/<id:project_id>/tasks/<id:task_id>/", api.TaskDetailApi.as_view(), name="task"),
    path("projects/<id:project_id>/next/", api.NextTaskApi.as_view(), name="next"),
    path("assignments/<id:assignment_id>/submit/", api.SubmitApi.as_view(), name="submit"),
    path("assignments/<id:assignment_id>/skip/", api.SkipApi.as_view(), name="skip"),
    path("assignments/<id:assignment_id>/flag/", api.FlagApi.as_view(), name="flag"),
]

# Import and export endpoints live with their packages.
from labeling.exporting.api_urls import urlpatterns as _export_api  # noqa: E402
from labeling.importing.api_urls import urlpatterns as _import_api  # noqa: E402

urlpatterns += _import_api + _export_api
