"""URLs of ext.theriseunion.io: Components, in their host namespaces and across all of them (the fleet view), and
a component's revision history and rollback (``components.api.revisions``)."""
from django.db.models import prefetch_related_objects
from drf_spectacular.utils import OpenApiParameter

from components.api import revisions
from components.manifests import ComponentConverter
from edgeplatform.resources.api import ManifestViewSet, manifest_urls, manifest_viewset

__all__ = ["ComponentViewSet", "urlpatterns"]

CLUSTER_PARAM = OpenApiParameter("cluster", {"type": "string"},
                                 description="Only the components of this cluster (a name).")


class ComponentBaseViewSet(ManifestViewSet):
    """Components: ``?cluster=`` narrows a list to one cluster; a page's clusters are read at once."""

    def filter_list(self, qs, request):
        """``?cluster=<name>``: that cluster's components."""
        cluster = request.query_params.get("cluster")
        return qs.filter(cluster__name=cluster) if cluster else qs

    def prefetch(self, rows):
        """Avoid a query per row for the cluster label."""
        prefetch_related_objects(rows, "cluster")


ComponentViewSet = manifest_viewset(ComponentConverter(), ComponentBaseViewSet, (CLUSTER_PARAM,))
urlpatterns = [*revisions.urlpatterns, *manifest_urls(ComponentViewSet.converter, ComponentViewSet)]
