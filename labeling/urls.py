from django.urls import path

import fairlabel.converters  # noqa: F401  (registers <id:...>)
from labeling import views

app_name = "labeling"
urlpatterns = [
    path("projects/", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<id:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<id:project_id>/edit/", views.project_edit, name="project_edit"),
    path("projects/<id:project_id>/publish/", views.project_publish, name="project_publish"),
    path("projects/<id:project_id>/pause/", views.project_pause, name="project_pause"),
    path("projects/<id:project_id>/tasks/", views.task_list, name="task_list"),
    path("projects/<id:project_id>/tasks/<id:task_id>/", views.task_detail, name="task_detail"),
    path("label/", views.annotator_home, name="annotator_home"),
    path("label/<id:project_id>/", views.label, name="label"),
    path("audit/", views.auditor_home, name="auditor_home"),
    path("rules/", views.rules, name="rules"),
]

from labeling.exporting.urls import urlpatterns as _export_pages  # noqa: E402
from labeling.importing.urls import urlpatterns as _import_pages  # noqa: E402

urlpatterns += _import_pages + _export_pages
