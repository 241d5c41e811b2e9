from django.urls import path

import fairlabel.converters  # noqa: F401  (registers <id:...>)
from labeling.importing import views

# Included into labeling/urls.py: the names live in the "labeling" namespace.
urlpatterns = [
    path("projects/<id:project_id>/imports/", views.import_upload, name="import_upload"),
    path("projects/<id:project_id>/imports/latest/", views.import_latest, name="import_latest"),
    path("imports/<id:job_id>/status/", views.import_status, name="import_status"),
    path(
        "media-protected/<id:project_id>/<str:token>/<path:name>",
        views.import_image,
        name="import_image",
    ),
]
