"""URLs of scope.theriseunion.io (and the native kinds served under clusters/<name>/)."""
from clusters.api import kubeconfig
from clusters.manifests import (
    ClusterConverter,
    NamespaceConverter,
    NodeConverter,
    NodeGroupConverter,
    WorkspaceConverter,
)
from edgeplatform.resources.api import ManifestViewSet, manifest_urls, manifest_viewset


class InClusterViewSet(ManifestViewSet):
    """Objects whose manifest names their cluster: load clusters for a page at once."""

    def prefetch(self, rows):
        """Avoid a query per row for the cluster."""
        from django.db.models import prefetch_related_objects

        prefetch_related_objects(rows, "cluster")


def _urls(converter_class, base=InClusterViewSet):
    converter = converter_class()
    return manifest_urls(converter, manifest_viewset(converter, base))


urlpatterns = [
    *kubeconfig.urlpatterns,
    *manifest_urls(ClusterConverter()),
    *_urls(WorkspaceConverter),
    *_urls(NodeGroupConverter),
    *_urls(NamespaceConverter),
    *_urls(NodeConverter),
]
