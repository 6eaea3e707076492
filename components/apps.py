"""App config of components: declares its kind (``components.manifests``)."""
from django.apps import AppConfig


class ComponentsConfig(AppConfig):
    """The components app."""

    name = "components"

    def ready(self):
        """Register the Component kind."""
        from components import manifests  # noqa: F401
