from django.urls import path

import fairlabel.converters  # noqa: F401  (registers <id:...> and <signed:...>)
from labeling.exporting import views

urlpatterns = [
    path("projects/<id:project_id>/exports/", views.export_panel, name="export_panel"),
    path("projects/<id:project_id>/exports/jobs/", views.export_jobs, name="export_jobs"),
    # The public fairness card of a project: no sign-in, the token is the link's secret.
    path("fair/<signed:token>/", views.fairness_card, name="fairness_card"),
    path("fair/<signed:token>.json", views.fairness_card_json, name="fairness_card_json"),
]
