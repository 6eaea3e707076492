"""``POST /oapis/scope.theriseunion.io/v1alpha1/clusters/{name}/connectioncheck``: run the connection check
(``clusters.health.check_connection``, the cluster controller's own) now, and answer what it found; nothing is
written.

With a body without ``spec.connection`` (``{"spec": {}}``, or ``{}``) it checks the cluster's stored connection
(``update`` on the cluster). With a body ``{"spec": {"connection": {...}}}`` it checks that connection instead,
before anyone stores it: ``update`` on the cluster when it exists, ``create`` of a cluster of that name otherwise
(so an import can be tried first). The connection is validated as a write of it would be (422 naming
``spec.connection.<field>``). The answer never carries a credential::

    {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "ConnectionCheck", "metadata": {"name": "edge"},
     "status": {"ok": false, "phase": "Failed", "reachable": true, "reason": "Unauthorized",
                "message": "401 Unauthorized: the API server refused the credentials", "kubernetesVersion": "",
                "nodeCount": 0}}
"""
from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters.health import check_connection, check_new_connection
from clusters.manifests import GROUP, ClusterConverter, ConnectionSerializer
from clusters.models import Cluster
from edgeplatform import authz
from edgeplatform.resources.errors import cause, invalid, not_found
from edgeplatform.resources.openapi import status_responses
from edgeplatform.resources.parsers import JSONParser, XYAMLParser, YAMLParser
from edgeplatform.resources.services import authorize

__all__ = ["ConnectionCheckView"]

_REQUEST = inline_serializer("ConnectionCheckRequest", {"spec": inline_serializer(
    "ConnectionCheckSpec", {"connection": ConnectionSerializer(required=False)})})
_ANSWER = inline_serializer("ConnectionCheck", {
    "apiVersion": serializers.CharField(), "kind": serializers.CharField(),
    "metadata": inline_serializer("ConnectionCheckMetadata", {"name": serializers.CharField()}),
    "status": inline_serializer("ConnectionCheckStatus", {
        "ok": serializers.BooleanField(help_text="The API server answered with its version and nodes."),
        "phase": serializers.CharField(help_text="Ready, Unreachable, Failed or Pending."),
        "reachable": serializers.BooleanField(allow_null=True, help_text="The API server answered at all."),
        "reason": serializers.CharField(), "message": serializers.CharField(),
        "kubernetesVersion": serializers.CharField(), "nodeCount": serializers.IntegerField()})})


class ConnectionCheckView(APIView):
    """Run the connection check of one cluster (its stored connection, or one given in the body)."""

    #: a body is JSON or YAML, as a write's is (no patch types: nothing is patched)
    parser_classes = [JSONParser, YAMLParser, XYAMLParser]

    @extend_schema(operation_id="createScopeTheriseunionIoV1alpha1ClusterConnectionCheck",
                   tags=["scope.theriseunion.io/clusters"], summary="Check a cluster's connection now",
                   description=__doc__, request=_REQUEST,
                   responses={200: OpenApiResponse(_ANSWER, description="What the check found"),
                              **status_responses(403, 404, 422, body=True)})
    def post(self, request, name: str):
        """See the module docstring."""
        converter = ClusterConverter()
        obj = Cluster.objects.filter(name=name).first()
        visible = obj is not None and authz.authorizer().allowed(request.user, "get", GROUP, "clusters",
                                                                 obj.scope_path, name, obj)
        body = request.data if isinstance(request.data, dict) else {}
        given = (body.get("spec") or {}).get("connection") if isinstance(body.get("spec"), dict) else None
        timeout = settings.EDGE_CLUSTER_HEALTH_TIMEOUT
        if given is None:
            if not visible:
                raise not_found("Cluster", name, GROUP)
            authorize(request.user, "update", converter, obj.scope_path, name, obj)
            found = check_connection(obj, timeout, want_uid=False)
        else:
            if obj is not None and visible:
                authorize(request.user, "update", converter, obj.scope_path, name, obj)
            else:
                authorize(request.user, "create", converter, Cluster.path_in(None, name), name)
            serializer = ConnectionSerializer(data=given)
            if not serializer.is_valid():
                errors = serializer.errors if isinstance(serializer.errors, dict) else {"": serializer.errors}
                raise invalid("Cluster", name, [cause(f"spec.connection.{field}".rstrip("."), str(message))
                                                for field, messages in errors.items() for message in messages],
                              GROUP)
            found = check_new_connection(name, dict(given), timeout)
        return Response({"apiVersion": f"{GROUP}/v1alpha1", "kind": "ConnectionCheck", "metadata": {"name": name},
                         "status": {"ok": found.ok, "phase": found.phase, "reachable": found.reachable,
                                    "reason": found.reason, "message": found.message,
                                    "kubernetesVersion": found.kubernetes_version, "nodeCount": found.node_count}})
