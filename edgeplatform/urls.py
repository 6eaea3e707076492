"""Top-level URLs: every app's API (and login) URLs, the OpenAPI schema and docs, the console, probes, metrics.

Each app names its own URL module with an ``api_urls`` attribute on its AppConfig (``iam.api.urls``,
``clusters.api.urls``, …); they are included here in INSTALLED_APPS order, so the project names no app.
"""
from django.apps import apps
from django.conf import settings
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from edgeplatform import metrics
from edgeplatform.console.site import console
from edgeplatform.probes import healthz, readyz
from edgeplatform.resources.api import unknown_resource


def app_urls() -> list:
    """The URL modules the installed apps declare (``AppConfig.api_urls``), in INSTALLED_APPS order."""
    return [path("", include(config.api_urls)) for config in apps.get_app_configs()
            if getattr(config, "api_urls", None)]


urlpatterns = [
    *app_urls(),
    path("oapis/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("oapis/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("oapis/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api-auth/", include("rest_framework.urls")),
    # The console replaces Django's default admin (whose is_staff/model permissions would be a second
    # permission system); old /admin/ links land on it.
    path("console/", console.urls),
    path("admin/", RedirectView.as_view(url="/console/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics.view, name="prometheus-django-metrics"),
    # last: every other /oapis/ URL is a kind (or group, or version) the API does not serve
    re_path(r"^oapis/(?P<path>.*)$", unknown_resource),
]
if settings.OIDC_ENABLED:  # OpenID Connect login: /oidc/authenticate/, /oidc/callback/, /oidc/logout/
    urlpatterns.append(path("oidc/", include("mozilla_django_oidc.urls")))

# errors outside the views: the API's shapes under /oapis/ and /oauth/, Django's pages elsewhere
handler400 = "edgeplatform.resources.http_errors.bad_request"
handler403 = "edgeplatform.resources.http_errors.permission_denied"
handler404 = "edgeplatform.resources.http_errors.page_not_found"
handler500 = "edgeplatform.resources.http_errors.server_error"
