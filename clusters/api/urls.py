"""URLs of scope.theriseunion.io (and the native kinds served under clusters/<name>/)."""
from django.db.models import Q
from django.urls import re_path

from clusters.api import join, kubeconfig, lifecycle
from clusters.api.connectioncheck import ConnectionCheckView
from clusters.manifests import (
    ClusterConverter,
    NamespaceConverter,
    NodeConverter,
    NodeGroupConverter,
    WorkspaceConverter,
)
from edgeplatform.resources import labels as selectors
from edgeplatform.resources.api import ManifestViewSet, manifest_urls, manifest_viewset
from edgeplatform.resources.names import DNS1123_LABEL_BODY, NODEGROUP_LABEL


class InClusterViewSet(ManifestViewSet):
    """Objects whose manifest names their cluster: load clusters for a page at once."""

    def prefetch(self, rows):
        """Avoid a query per row for the cluster."""
        from django.db.models import prefetch_related_objects

        prefetch_related_objects(rows, cluster_names())


class NodeViewSet(InClusterViewSet):
    """Nodes: ``theriseunion.io/nodegroup`` in a selector means the group the node is in, by label or by the
    group's selector (as its manifest shows it)."""

    def filter_selector(self, qs, requirements):
        """Requirements on the node-group label are asked of the node's group; the others of its labels."""
        group = [r for r in requirements if r.key == NODEGROUP_LABEL]
        rest = [r for r in requirements if r.key != NODEGROUP_LABEL]
        q = selectors.filter_q(rest) if rest else Q()
        for requirement in group:
            if requirement.operator == "In":
                q &= Q(nodegroup__name__in=requirement.values)
            elif requirement.operator == "NotIn":
                q &= Q(nodegroup__isnull=True) | ~Q(nodegroup__name__in=requirement.values)
            elif requirement.operator == "Exists":
                q &= Q(nodegroup__isnull=False)
            else:
                q &= Q(nodegroup__isnull=True)
        return qs.filter(q)

    def prefetch(self, rows):
        """The cluster and the group of each row, at once."""
        from django.db.models import prefetch_related_objects

        prefetch_related_objects(rows, cluster_names(), "nodegroup")


def cluster_names():
    """The clusters of a page of rows, as their manifests use them: only the name (a cluster row also carries its
    spec, status and encrypted connection, which a list of its workspaces or nodes would decode for nothing)."""
    from django.db.models import Prefetch

    from clusters.models import Cluster

    return Prefetch("cluster", queryset=Cluster.objects.only("pk", "name"))


def _urls(converter_class, base=InClusterViewSet):
    converter = converter_class()
    return manifest_urls(converter, manifest_viewset(converter, base))


urlpatterns = [
    *join.urlpatterns,  # before the node group's own URLs
    *lifecycle.urlpatterns,
    re_path(rf"^oapis/scope\.theriseunion\.io/v1alpha1/clusters/(?P<name>{DNS1123_LABEL_BODY})/connectioncheck/?$",
            ConnectionCheckView.as_view(), name="scope.theriseunion.io-clusters-connectioncheck"),
    *kubeconfig.urlpatterns,
    *manifest_urls(ClusterConverter()),
    *_urls(WorkspaceConverter),
    *_urls(NodeGroupConverter),
    *_urls(NamespaceConverter),
    *_urls(NodeConverter, NodeViewSet),
]
