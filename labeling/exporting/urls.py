from django.urls import path

from labeling.exporting import views

urlpatterns = [
    path("projects/<int:project_id>/exports/", views.export_panel, name="export_panel"),
    path("projects/<int:project_id>/exports/jobs/", views.export_jobs, name="export_jobs"),
]
