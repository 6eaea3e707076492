"""App config of components: declares its kind (``components.manifests``), serves its API and tells the clusters
app that a cluster's components go with it."""
from django.apps import AppConfig


class ComponentsConfig(AppConfig):
    """The components app."""

    name = "components"
    #: the app's URLs, included by the project (``edgeplatform.urls``)
    api_urls = "components.api.urls"

    def ready(self):
        """Register the Component kind, and its rows as contents of their cluster (deleted with it)."""
        from clusters.services import register_contents
        from components import manifests, models  # noqa: F401

        register_contents(models.Component)
