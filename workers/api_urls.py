from django.urls import path

from workers import api

urlpatterns = [
    path("heartbeat/", api.HeartbeatApi.as_view(), name="heartbeat"),
    path("breaks/", api.BreakApi.as_view(), name="breaks"),
    path("breaks/end/", api.BreakEndApi.as_view(), name="break-end"),
    path("projects/<id:project_id>/consent/", api.ConsentApi.as_view(), name="consent"),
    path("me/display/", api.DisplayApi.as_view(), name="display"),
]
