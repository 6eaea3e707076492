"""A node's lifecycle, under the node's URL:

* ``GET  /oapis/scope.theriseunion.io/v1alpha1/clusters/<c>/nodes/<n>/lifecycle`` — where the node's lifecycle
  stands (``NodeLifecycle``: ``desired``, ``phase``, ``message``, ``blockedBy``); needs ``get`` on the node. The
  console polls it for live progress.
* ``POST`` the same with ``{"action": "maintenance" | "drain" | "online" | "uncordon" | "decommission"}`` — writes
  the desired lifecycle (``node.theriseunion.io/lifecycle``) through the write path as the caller (an ``update``
  of the node, authorized by the engine at the node's scope, audited); the ``node-lifecycle`` controller does the
  rest. Answers 202 with the same document.

A node the caller may not see is 404, as a missing one; one they may see but not change is 403.
"""
from __future__ import annotations

from django.urls import re_path
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import node_lifecycle
from clusters.manifests import API_VERSION, GROUP, LIFECYCLE_ANNOTATION
from clusters.models import Node
from clusters.node_lifecycle import ACTIONS
from edgeplatform import authz
from edgeplatform.resources import scopes
from edgeplatform.resources.errors import cause, invalid, not_found
from edgeplatform.resources.names import DNS1123_LABEL_BODY, NAME_IN_URL
from edgeplatform.resources.openapi import body_types, status_responses

__all__ = ["NodeLifecycleView", "document", "urlpatterns"]

TAGS = [f"{GROUP}/nodes"]

LIFECYCLE_FIELDS = {
    "desired": serializers.CharField(help_text="online, maintenance or decommissioned (none: nothing asked)."),
    "phase": serializers.CharField(help_text="Online, Cordoned, Draining, Maintenance, Decommissioning."),
    "message": serializers.CharField(help_text="What is going on, for people."),
    "blockedBy": serializers.ListField(child=serializers.DictField(), help_text="Pods whose eviction a "
                                                                               "PodDisruptionBudget blocks: "
                                                                               "{pod, budget}."),
}


def _node(request_, cluster: str, name: str, verb: str = "get") -> Node:
    if not authz.may_know_scope(request_.user, scopes.resolve("cluster", cluster)):
        raise not_found("clusters", cluster, GROUP)
    node = Node.objects.restrict(request_.user, verb).select_related("cluster", "nodegroup") \
        .filter(cluster__name=cluster, name=name).first()
    if node is None:
        raise not_found("nodes", name, "")
    return node


def document(node: Node) -> dict:
    """The ``NodeLifecycle`` of a node."""
    status = dict((node.status or {}).get("lifecycle") or {})
    status.setdefault("desired", (node.annotations or {}).get(LIFECYCLE_ANNOTATION) or "")
    status.setdefault("phase", "Online" if not status["desired"] else "Pending")
    status.setdefault("message", "")
    status.setdefault("blockedBy", [])
    return {"apiVersion": API_VERSION, "kind": "NodeLifecycle",
            "metadata": {"name": node.name, "cluster": node.cluster.name}, **status}


class NodeLifecycleView(APIView):
    """Read or ask for a node's lifecycle."""

    @extend_schema(operation_id="readScopeTheriseunionIoV1alpha1NodeLifecycle", tags=TAGS,
                   summary="Where a node's lifecycle (maintenance, online, decommission) stands",
                   responses={200: OpenApiResponse(inline_serializer("NodeLifecycle", LIFECYCLE_FIELDS),
                                                   description="The node's lifecycle"),
                              **status_responses(404)})
    def get(self, request, cluster: str, name: str):
        """The node's ``NodeLifecycle``."""
        return Response(document(_node(request, cluster, name)))

    @extend_schema(operation_id="createScopeTheriseunionIoV1alpha1NodeLifecycle", tags=TAGS,
                   summary="Ask for a node lifecycle: maintenance (cordon and drain), online, decommission",
                   request=body_types(inline_serializer("NodeLifecycleAction", {
                       "action": serializers.ChoiceField(choices=sorted(ACTIONS), help_text="What to do.")})),
                   responses={202: OpenApiResponse(inline_serializer("NodeLifecycleAccepted", LIFECYCLE_FIELDS),
                                                   description="Accepted: the controller brings the node there"),
                              **status_responses(403, 404, 422, body=True)})
    def post(self, request, cluster: str, name: str):
        """Write the desired lifecycle; 202 with the node's ``NodeLifecycle``."""
        node = _node(request, cluster, name)
        body = request.data if isinstance(request.data, dict) else {}
        action = body.get("action")
        if action not in ACTIONS:
            raise invalid("NodeLifecycle", name, [cause("action", f"must be one of {', '.join(sorted(ACTIONS))}",
                                                        "FieldValueNotSupported")], GROUP)
        saved = node_lifecycle.request(node, action, user=request.user)
        return Response(document(saved), status=202)


_PREFIX = rf"^oapis/{GROUP}/v1alpha1/clusters/(?P<cluster>{DNS1123_LABEL_BODY})/nodes/(?P<name>{NAME_IN_URL})"
#: included before the nodes' own URLs
urlpatterns = [re_path(rf"{_PREFIX}/lifecycle/?$", NodeLifecycleView.as_view(), name="node-lifecycle")]
