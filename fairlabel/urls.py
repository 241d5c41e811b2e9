from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as accounts_api
from accounts import views as accounts_views
from fairlabel.api_errors import not_found
from fairlabel.health import healthz

api_patterns = [
    path("auth/token/", accounts_api.TokenApi.as_view(), name="token"),
    path("me/", accounts_api.MeApi.as_view(), name="me"),
    path("", include("labeling.api_urls")),
    path("", include("workers.api_urls")),
    path("", include("payments.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    path("", accounts_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name none (the Django admin, a JSON answer):
    # the app's icon, instead of a 404 in the log for every such page.
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("favicon.svg"))),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include((api_patterns, "api"))),
    path("", include("payments.urls")),
    path("", include("labeling.urls")),
]

# Under /api/ a URL that matches nothing is a JSON 404 like any other; pages keep 404.html.
handler404 = not_found
