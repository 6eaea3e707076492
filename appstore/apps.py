"""App config of the app store: declares its kinds (``appstore.manifests``)."""
from django.apps import AppConfig


class AppstoreConfig(AppConfig):
    """The appstore app."""

    name = "appstore"
    verbose_name = "App store"

    def ready(self):
        """Register the app store's kinds."""
        from appstore import manifests  # noqa: F401
