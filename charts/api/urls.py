"""URLs of the chart repositories (Harbor's layout), included by the project through ``ChartsConfig.api_urls``."""
from django.urls import path, re_path

from . import views

REPO = r"(?P<repository>[a-z0-9]([-a-z0-9]*[a-z0-9])?)"
NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)"

urlpatterns = [
    re_path(rf"^chartrepo/{REPO}/index\.yaml$", views.IndexView.as_view(), name="chartrepo-index"),
    re_path(rf"^chartrepo/{REPO}/charts/(?P<filename>[^/]+\.tgz)$", views.ChartFileView.as_view(),
            name="chartrepo-file"),
    path("api/chartrepo/health", views.HealthView.as_view(), name="chartrepo-health"),
    re_path(rf"^api/chartrepo/{REPO}/health$", views.HealthView.as_view(), name="chartrepo-repo-health"),
    re_path(rf"^api/chartrepo/{REPO}/charts/?$", views.ChartsView.as_view(), name="chartrepo-charts"),
    re_path(rf"^api/chartrepo/{REPO}/charts/{NAME}/?$", views.ChartView.as_view(), name="chartrepo-chart"),
    re_path(rf"^api/chartrepo/{REPO}/charts/{NAME}/(?P<version>[^/]+)/?$", views.VersionView.as_view(),
            name="chartrepo-version"),
]
