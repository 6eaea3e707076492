"""App config: registers the scope models with the shared scope resolver."""
from django.apps import AppConfig


class ClustersConfig(AppConfig):
    """The clusters app."""

    name = "clusters"
    #: the app's URLs, included by the project (``edgeplatform.urls``)
    api_urls = "clusters.api.urls"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        """Register scope models and converters, the cluster controller (virtual clusters, health, edge runtimes,
        default components), its triggers and metrics, the member sync (and its tasks) and the label write-back,
        join tokens, and the workspace, node-group and node-lifecycle controllers."""
        from clusters import (  # noqa: F401
            controller,
            edge_runtime,
            join_tokens,
            manifests,
            member_sync,
            metrics,
            models,
            node_lifecycle,
            nodegroups,
            signals,
            tasks,
            vcluster,
            workspaces,
        )
        from edgeplatform.resources.scopes import register_scope_model

        for level, model in (("cluster", models.Cluster), ("workspace", models.Workspace),
                             ("nodegroup", models.NodeGroup), ("namespace", models.Namespace),
                             ("node", models.Node)):
            register_scope_model(level, model)
        member_sync.connect()
        workspaces.connect()
        nodegroups.connect()
        node_lifecycle.connect()
        edge_runtime.connect()
        join_tokens.connect()
        signals.connect()
        vcluster.connect()
        metrics.install()
