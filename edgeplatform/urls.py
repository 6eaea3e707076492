"""Top-level URLs: the API groups, OAuth, the OpenAPI schema and docs, metrics."""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from edgeplatform.probes import healthz, readyz
from iam.api.auth import RevokeView, TokenView

urlpatterns = [
    path("", include("iam.api.urls")),
    path("", include("clusters.api.urls")),
    path("oauth/token", TokenView.as_view(), name="oauth-token"),
    path("oauth/revoke", RevokeView.as_view(), name="oauth-revoke"),
    path("oapis/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("oapis/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("oapis/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("", include("django_prometheus.urls")),
]
