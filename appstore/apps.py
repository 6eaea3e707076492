"""App config of the app store (its kinds arrive with the app store issue)."""
from django.apps import AppConfig


class AppstoreConfig(AppConfig):
    """The appstore app."""

    name = "appstore"
    verbose_name = "App store"
