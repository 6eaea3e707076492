"""URLs of scope.theriseunion.io (and the native kinds served under clusters/<name>/)."""
from django.urls import re_path

from clusters.api.connectioncheck import ConnectionCheckView
from clusters.manifests import (
    ClusterConverter,
    NamespaceConverter,
    NodeConverter,
    NodeGroupConverter,
    WorkspaceConverter,
)
from edgeplatform.resources.api import ManifestViewSet, manifest_urls, manifest_viewset
from edgeplatform.resources.names import DNS1123_LABEL_BODY


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
    re_path(rf"^oapis/scope\.theriseunion\.io/v1alpha1/clusters/(?P<name>{DNS1123_LABEL_BODY})/connectioncheck/?$",
            ConnectionCheckView.as_view(), name="scope.theriseunion.io-clusters-connectioncheck"),
    *manifest_urls(ClusterConverter()),
    *_urls(WorkspaceConverter),
    *_urls(NodeGroupConverter),
    *_urls(NamespaceConverter),
    *_urls(NodeConverter),
]
