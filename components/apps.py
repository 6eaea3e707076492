"""App config of components: declares its kind (``components.manifests``), its controllers and their triggers."""
from django.apps import AppConfig


class ComponentsConfig(AppConfig):
    """The components app."""

    name = "components"

    def ready(self):
        """Register the Component kind, the controllers (and their tasks), the triggers and the metrics."""
        from components import manifests, metrics, signals, tasks  # noqa: F401

        signals.connect()
        metrics.install()
