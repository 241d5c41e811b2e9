from django.urls import path

import fairlabel.converters  # noqa: F401  (registers <id:...>)
from labeling.exporting import views

urlpatterns = [
    path("projects/<id:project_id>/exports/", views.export_panel, name="export_panel"),
    path("projects/<id:project_id>/exports/jobs/", views.export_jobs, name="export_jobs"),
]
