"""App config of charts: the platform's own chart repositories (ChartMuseum's API in Harbor's layout)."""
from django.apps import AppConfig


class ChartsConfig(AppConfig):
    """The charts app."""

    name = "charts"
    default_auto_field = "django.db.models.BigAutoField"
