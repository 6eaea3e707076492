"""The project's own app: shared infrastructure (the Kubernetes gateway, the CRD sync, management commands)."""
from django.apps import AppConfig


class EdgePlatformConfig(AppConfig):
    """Connects the CRD sync to the write path and registers its Celery tasks and the controllers' beat task."""

    name = "edgeplatform"
    verbose_name = "Edge Platform"

    def ready(self):
        """Queue a CRD sync after every committed save or delete of a kind with a CRD."""
        from edgeplatform.controllers import tasks as controller_tasks  # noqa: F401  (the beat re-enqueue)
        from edgeplatform.kube import sync, tasks  # noqa: F401  (tasks: registered with Celery on import)

        sync.connect()
