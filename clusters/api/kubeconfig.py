"""A cluster's kubeconfig, for those who may have it:

``GET /oapis/scope.theriseunion.io/v1alpha1/clusters/<name>/kubeconfig`` answers the stored kubeconfig of the
cluster (a virtual cluster's is the one its vcluster chart exported; an imported cluster's is the one it was
imported with) as ``application/yaml``, to be saved as a file.

Authorized by the engine as ``get`` on the subresource ``clusters/kubeconfig`` of ``scope.theriseunion.io`` at the
cluster's scope (a role needs that resource by name, or ``*``: seeing a cluster is not enough). A cluster the
caller may not see is 404, as a missing one; one they may see but not download is 403. Every answer is audited
(``get`` of ``clusters/kubeconfig``, allowed or denied), never with the kubeconfig in it.
"""
from __future__ import annotations

import yaml
from django.http import HttpResponse
from django.urls import re_path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from clusters.models import Cluster
from edgeplatform import auditing, authz
from edgeplatform.kube.connections import member_kubeconfig
from edgeplatform.kube.errors import KubeNotConfigured
from edgeplatform.resources.errors import StatusError, not_found
from edgeplatform.resources.names import DNS1123_LABEL_BODY
from edgeplatform.resources.openapi import status_responses

__all__ = ["GROUP", "RESOURCE", "VERB", "KubeconfigView", "may_download", "urlpatterns"]

GROUP, RESOURCE, VERB = "scope.theriseunion.io", "clusters/kubeconfig", "get"


def may_download(user, cluster: Cluster) -> bool:
    """Whether the engine lets ``user`` download the cluster's kubeconfig."""
    return bool(user and user.is_authenticated) and authz.authorizer().allowed(
        user, VERB, GROUP, RESOURCE, cluster.scope_path, cluster.name, cluster)


def _audit(cluster: Cluster, result: str, code: int, message: str, request) -> None:
    auditing.record(VERB, resource=RESOURCE, group=GROUP, kind="Cluster", name=cluster.name,
                    scope_path=cluster.scope_path, result=result, status_code=code, message=message,
                    request=request)


def kubeconfig_response(request, name: str) -> HttpResponse:
    """The kubeconfig download of cluster ``name`` for ``request.user`` (the API's and the console's)."""
    cluster = Cluster.objects.restrict(request.user, "get").filter(name=name).first()
    if cluster is None:
        raise not_found("clusters", name, GROUP)
    if not may_download(request.user, cluster):
        message = (f'user "{request.user.get_username()}" cannot {VERB} resource "{RESOURCE}" in API group '
                   f'"{GROUP}" at scope "{cluster.scope_path}"')
        _audit(cluster, "denied", 403, message, request)
        raise StatusError(403, message, kind="clusters", name=name, group=GROUP)
    try:
        document = member_kubeconfig(cluster)
    except KubeNotConfigured:
        document = None
    if document is None:
        _audit(cluster, "allowed", 404, "the cluster has no stored kubeconfig", request)
        raise StatusError(404, f'cluster "{name}" has no stored kubeconfig (a virtual cluster has one once it '
                               "is provisioned)", kind="clusters", name=name, group=GROUP)
    _audit(cluster, "allowed", 200, "kubeconfig downloaded", request)
    response = HttpResponse(yaml.safe_dump(document, sort_keys=False), content_type="application/yaml")
    response["Content-Disposition"] = f'attachment; filename="{cluster.name}.kubeconfig"'
    response["Cache-Control"] = "no-store"
    return response


class KubeconfigView(APIView):
    """A cluster's kubeconfig download."""

    @extend_schema(operation_id="readScopeTheriseunionIoV1alpha1ClusterKubeconfig", tags=[f"{GROUP}/clusters"],
                   summary="Download a cluster's kubeconfig (get on clusters/kubeconfig)",
                   responses={200: OpenApiResponse(description="The kubeconfig (application/yaml)"),
                              **status_responses(403, 404)})
    def get(self, request, name: str):
        """The stored kubeconfig, as YAML."""
        return kubeconfig_response(request, name)


#: included by clusters.api.urls
urlpatterns = [
    re_path(rf"^oapis/{GROUP}/v1alpha1/clusters/(?P<name>{DNS1123_LABEL_BODY})/kubeconfig/?$",
            KubeconfigView.as_view(), name="cluster-kubeconfig"),
]
