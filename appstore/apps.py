"""App config of the app store: declares its kinds (``appstore.manifests``) and serves its API."""
from django.apps import AppConfig


class AppstoreConfig(AppConfig):
    """The appstore app."""

    name = "appstore"
    verbose_name = "App store"
    #: the app's URLs, included by the project (``edgeplatform.urls``)
    api_urls = "appstore.api.urls"

    def ready(self):
        """Register the app store's kinds, its deployments as contents of their home cluster, its signals (the
        applications' status), the deployment controller's triggers and its metrics."""
        from appstore import manifests, metrics, models, signals, tasks, triggers  # noqa: F401
        from clusters.services import register_contents

        register_contents(models.ApplicationDeployment)
        signals.connect()
        triggers.connect()
        metrics.install()
