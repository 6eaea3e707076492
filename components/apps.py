"""App config of components: declares its kind (``components.manifests``), serves its API, tells the clusters app
that a cluster's components go with it, and starts its controllers (and their tasks), triggers and metrics."""
from django.apps import AppConfig


class ComponentsConfig(AppConfig):
    """The components app."""

    name = "components"
    #: the app's URLs, included by the project (``edgeplatform.urls``)
    api_urls = "components.api.urls"

    def ready(self):
        """Register the Component kind, its rows as contents of their cluster (deleted with it), the controllers,
        the triggers and the metrics."""
        from clusters.services import register_contents
        from components import manifests, metrics, models, signals, tasks  # noqa: F401

        register_contents(models.Component)
        signals.connect()
        metrics.install()
