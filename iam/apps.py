"""App config: installs the permission engine and its invalidation hooks."""
from django.apps import AppConfig


class IamConfig(AppConfig):
    """The iam app."""

    name = "iam"
    #: the app's URLs, included by the project (``edgeplatform.urls``)
    api_urls = "iam.api.urls"
    verbose_name = "Identity and access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        """Register converters, the engine and the signal handlers that keep grants fresh."""
        from edgeplatform import authz
        from iam import manifests, signals, tokens  # noqa: F401  (tokens: disabling a user revokes their tokens)
        from iam.engine import engine, metrics
        from iam.native_rbac import triggers  # noqa: F401  (grant and scope changes queue RBAC reconciles)

        authz.register(engine)
        metrics.install(engine)
