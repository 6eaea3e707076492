"""App config of charts: the platform's own chart repositories (ChartMuseum's API in Harbor's layout)."""
from django.apps import AppConfig


class ChartsConfig(AppConfig):
    """The charts app."""

    name = "charts"
    #: the repositories' URLs, included by the project (``edgeplatform.urls``)
    api_urls = "charts.api.urls"
    default_auto_field = "django.db.models.BigAutoField"
