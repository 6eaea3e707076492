"""Join tokens and joining nodes of a node group, under the node group's URL (``clusters.join_tokens``):

* ``GET    /oapis/scope.theriseunion.io/v1alpha1/nodegroups/<g>/jointokens`` — ``JoinTokenList`` (no secrets);
* ``POST   …/nodegroups/<g>/jointokens`` ``{"spec": {"ttlSeconds": 3600, "description": "..."}}`` (a
  ``JoinTokenRequest``, shaped as Kubernetes' TokenRequest; ``{"spec": {}}`` takes the defaults) — 201
  ``JoinToken`` with ``secret`` and ``command`` (the ready-to-paste ``keadm join`` / ``yurtadm join``): the only
  answer that has them;
* ``DELETE …/nodegroups/<g>/jointokens/<id>`` — revoke (a Success ``Status``; the token stays listed, ``Revoked``);
* ``POST   …/nodegroups/<g>/jointokens/<id>/rotate`` — revoke it and issue a new one (201, as a POST above);
* ``GET    …/nodegroups/<g>/joinrequests[?phase=Pending]`` — ``NodeJoinList``: nodes that registered with a token;
* ``POST   …/nodegroups/<g>/joinrequests/<node>/approve`` and ``…/reject``.

A node group the caller may not see is 404, as a missing one; the engine decides the rest at the node group's scope
(``list nodes`` to read, ``update nodes`` to change), 403 otherwise; bad input is a 422 Status naming the field.
Every change is audited (the write path's events for the node, ``jointokens`` events for tokens).
"""
from __future__ import annotations

from django.urls import re_path
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import join_tokens
from clusters.manifests import API_VERSION, GROUP
from clusters.models import JoinToken, NodeGroup, NodeJoin
from edgeplatform.resources.errors import cause, invalid, not_found, status_object
from edgeplatform.resources.names import DNS1123_LABEL_BODY, NAME_IN_URL
from edgeplatform.resources.openapi import body_types, list_of, ref, status_responses

__all__ = ["urlpatterns"]

TAGS = [f"{GROUP}/nodegroups"]

TOKEN_FIELDS = {
    "id": serializers.CharField(help_text="The token's id (6 characters; public: the joining node's label)."),
    "nodeGroup": serializers.CharField(help_text="The node group nodes join with it."),
    "cluster": serializers.CharField(help_text="The node group's cluster."),
    "runtime": serializers.CharField(help_text="kubeedge or openyurt."),
    "description": serializers.CharField(help_text="What it is for."),
    "createdBy": serializers.CharField(help_text="Who issued it."),
    "created": serializers.DateTimeField(help_text="When it was issued."),
    "expires": serializers.DateTimeField(help_text="When it stops being accepted."),
    "revoked": serializers.DateTimeField(allow_null=True, help_text="When it was revoked (null: it was not)."),
    "phase": serializers.CharField(help_text="Valid, Expired or Revoked."),
    "nodes": serializers.ListField(child=serializers.CharField(), help_text="Nodes that joined with it."),
}
ISSUED_FIELDS = {
    **TOKEN_FIELDS,
    "secret": serializers.CharField(help_text="The token's secret: in this answer only, never again."),
    "command": serializers.CharField(help_text="The ready-to-paste keadm join / yurtadm join command (holds the "
                                               "secret or CloudCore's token): in this answer only."),
}
JOIN_FIELDS = {
    "node": serializers.CharField(help_text="The node's name."),
    "cluster": serializers.CharField(help_text="Its cluster."),
    "phase": serializers.CharField(help_text="Pending, Approved or Rejected."),
    "nodeGroup": serializers.CharField(allow_null=True, help_text="The node group it asks for."),
    "token": serializers.CharField(help_text="The join token id its label names."),
    "reason": serializers.CharField(help_text="Why it is in its phase (TokenExpired, AutoApproved, …)."),
    "message": serializers.CharField(help_text="The same, for people."),
    "decidedBy": serializers.CharField(help_text="Who approved or rejected it."),
    "created": serializers.DateTimeField(help_text="When the platform first saw it."),
    "decided": serializers.DateTimeField(allow_null=True, help_text="When it was approved or rejected."),
}
TOKEN = inline_serializer("JoinToken", TOKEN_FIELDS)
ISSUED = inline_serializer("IssuedJoinToken", ISSUED_FIELDS)
JOIN = inline_serializer("NodeJoin", JOIN_FIELDS)
ISSUE_BODY = inline_serializer("JoinTokenRequest", {
    "apiVersion": serializers.CharField(required=False, help_text=f"{API_VERSION}"),
    "kind": serializers.CharField(required=False, help_text="JoinTokenRequest"),
    "spec": inline_serializer("JoinTokenRequestSpec", {
        "ttlSeconds": serializers.IntegerField(required=False, help_text="Lifetime in seconds (default "
                                                                         "EDGE_JOIN_TOKEN_TTL, at most "
                                                                         "EDGE_JOIN_TOKEN_MAX_TTL)."),
        "description": serializers.CharField(required=False, help_text="What the token is for.")},
        help_text="What token to issue (as Kubernetes' TokenRequest: an empty spec takes the defaults)."),
})


def _group(request, name: str) -> NodeGroup:
    group = NodeGroup.objects.restrict(request.user, "get").select_related("cluster").filter(name=name).first()
    if group is None:
        raise not_found("nodegroups", name, GROUP)
    return group


def _token(group: NodeGroup, token_id: str) -> JoinToken:
    token = JoinToken.objects.select_related("nodegroup", "cluster").filter(nodegroup=group, token_id=token_id).first()
    if token is None:
        raise not_found(join_tokens.RESOURCE, token_id, GROUP)
    return token


def _issued(issued: join_tokens.Issued) -> dict:
    view = join_tokens._view(issued.token)
    return {"apiVersion": API_VERSION, "kind": "JoinToken", "metadata": {"name": view["id"]},
            **view, "secret": issued.secret, "command": issued.command}


def _one(token: JoinToken) -> dict:
    view = join_tokens._view(token)
    return {"apiVersion": API_VERSION, "kind": "JoinToken", "metadata": {"name": view["id"]}, **view}


class JoinTokensView(APIView):
    """A node group's join tokens: list, issue."""

    @extend_schema(operation_id="listScopeTheriseunionIoV1alpha1NodeGroupJoinToken", tags=TAGS,
                   summary="A node group's join tokens, newest first (never their secrets)",
                   responses={200: OpenApiResponse(list_of("JoinToken", API_VERSION, TOKEN_FIELDS),
                                                   description="The tokens"), **status_responses(403, 404)})
    def get(self, request, name: str):
        """``JoinTokenList``: the group's tokens, newest first, without secrets."""
        group = _group(request, name)
        return Response({"apiVersion": API_VERSION, "kind": "JoinTokenList", "metadata": {"name": group.name},
                         "items": join_tokens.tokens(group, user=request.user)})

    @extend_schema(operation_id="createScopeTheriseunionIoV1alpha1NodeGroupJoinToken", tags=TAGS,
                   summary="Issue a join token: the answer carries its secret and join command, once",
                   request=body_types(ISSUE_BODY),
                   responses={201: OpenApiResponse(ISSUED, description="The token, its secret and command"),
                              **status_responses(404, 409, 422, body=True)})
    def post(self, request, name: str):
        """Issue a token; the answer carries its secret and join command, once."""
        group = _group(request, name)
        body = request.data if isinstance(request.data, dict) else None
        spec = body.get("spec") if body is not None else None
        if not isinstance(spec, dict):
            raise invalid("JoinTokenRequest", "", [cause("spec", "must be an object ({} takes the defaults)",
                                                         "FieldValueRequired")], GROUP)
        unknown = [f"spec.{field}" for field in sorted(set(spec) - {"ttlSeconds", "description"})]
        unknown += sorted(set(body) - {"spec", "apiVersion", "kind", "metadata"})
        if unknown:
            raise invalid("JoinTokenRequest", "", [cause(field, "unknown field", "FieldValueNotSupported")
                                                   for field in unknown], GROUP)
        issued = join_tokens.issue(group, user=request.user, ttl=spec.get("ttlSeconds"),
                                   description=spec.get("description") or "")
        return Response(_issued(issued), status=201)


class JoinTokenView(APIView):
    """One join token: read, revoke."""

    @extend_schema(operation_id="readScopeTheriseunionIoV1alpha1NodeGroupJoinToken", tags=TAGS,
                   summary="One join token (never its secret)",
                   responses={200: OpenApiResponse(TOKEN, description="The token"), **status_responses(403, 404)})
    def get(self, request, name: str, token: str):
        """The token (no secret)."""
        group = _group(request, name)
        join_tokens._authorize(request.user, "list", group)
        return Response(_one(_token(group, token)))

    @extend_schema(operation_id="deleteScopeTheriseunionIoV1alpha1NodeGroupJoinToken", tags=TAGS,
                   summary="Revoke a join token (its bootstrap token leaves the member)",
                   responses={200: OpenApiResponse(ref("Status"), description="Revoked (it stays listed, "
                                                                              "phase Revoked)"),
                              **status_responses(403, 404)})
    def delete(self, request, name: str, token: str):
        """Revoke it: refused from now on, its bootstrap token gone from the member; a Success Status."""
        group = _group(request, name)
        join_tokens._authorize(request.user, "update", group)
        revoked = join_tokens.revoke(_token(group, token), user=request.user)
        return Response(status_object(200, "", f'join token "{revoked.token_id}" of node group "{group.name}" '
                                               f"revoked", {"name": revoked.token_id, "group": GROUP,
                                                            "kind": join_tokens.RESOURCE}, success=True))


class RotateView(APIView):
    """Rotate a join token."""

    @extend_schema(operation_id="createScopeTheriseunionIoV1alpha1NodeGroupJoinTokenRotate", tags=TAGS,
                   summary="Rotate a join token: revoke it and issue a new one with the same lifetime",
                   request=None,
                   responses={201: OpenApiResponse(ISSUED, description="The new token, its secret and command"),
                              **status_responses(403, 404, 409)})
    def post(self, request, name: str, token: str):
        """Revoke it and issue a new one with the same lifetime (201, with the new secret and command)."""
        group = _group(request, name)
        join_tokens._authorize(request.user, "update", group)
        return Response(_issued(join_tokens.rotate(_token(group, token), user=request.user)), status=201)


class JoinRequestsView(APIView):
    """Nodes that registered for a node group with a join token."""

    @extend_schema(operation_id="listScopeTheriseunionIoV1alpha1NodeGroupNodeJoin", tags=TAGS,
                   summary="Nodes that registered for a node group with a join token",
                   parameters=[OpenApiParameter("phase", str, enum=["Pending", "Approved", "Rejected"],
                                                description="Only the nodes in this phase.")],
                   responses={200: OpenApiResponse(list_of("NodeJoin", API_VERSION, JOIN_FIELDS),
                                                   description="The joining nodes"),
                              **status_responses(403, 404, 422)})
    def get(self, request, name: str):
        """``NodeJoinList`` (``?phase=Pending|Approved|Rejected``)."""
        group = _group(request, name)
        phase = request.query_params.get("phase") or None
        if phase and phase not in (NodeJoin.PENDING, NodeJoin.APPROVED, NodeJoin.REJECTED):
            raise invalid("NodeJoin", "", [cause("phase", "must be Pending, Approved or Rejected",
                                                 "FieldValueNotSupported")], GROUP)
        return Response({"apiVersion": API_VERSION, "kind": "NodeJoinList", "metadata": {"name": group.name},
                         "items": join_tokens.joins(group, user=request.user, phase=phase)})


class DecisionView(APIView):
    """Approve or reject a joining node (``action``: the ``join_tokens`` function that decides)."""

    action = ""

    def post(self, request, name: str, node: str):
        """The node's join record after the decision."""
        group = _group(request, name)
        view = getattr(join_tokens, self.action)(group, node, user=request.user)
        return Response({"apiVersion": API_VERSION, "kind": "NodeJoin", "metadata": {"name": node}, **view})


def _decision_schema(operation_id: str, summary: str):
    """The OpenAPI of a decision view's POST."""
    return extend_schema_view(post=extend_schema(
        operation_id=operation_id, tags=TAGS, summary=summary, request=None,
        responses={200: OpenApiResponse(JOIN, description="The node's join record"),
                   **status_responses(403, 404, 409)}))


@_decision_schema("createScopeTheriseunionIoV1alpha1NodeGroupNodeJoinApproval",
                  "Approve a joining node into the node group")
class ApproveView(DecisionView):
    """Approve a joining node: it is labelled into the node group, here and on its member."""

    action = "approve"  # 409 when rejected, or its token is no longer valid


@_decision_schema("createScopeTheriseunionIoV1alpha1NodeGroupNodeJoinRejection", "Reject a joining node")
class RejectView(DecisionView):
    """Reject a joining node: it stays outside the node group."""

    action = "reject"  # 409 when already approved


_PREFIX = rf"^oapis/{GROUP}/v1alpha1/nodegroups/(?P<name>{NAME_IN_URL})"
_TOKEN = r"(?P<token>[a-z0-9]{6})"
#: included by ``clusters.api.urls``
urlpatterns = [
    re_path(rf"{_PREFIX}/jointokens/?$", JoinTokensView.as_view(), name="nodegroup-jointokens"),
    re_path(rf"{_PREFIX}/jointokens/{_TOKEN}/?$", JoinTokenView.as_view(), name="nodegroup-jointoken"),
    re_path(rf"{_PREFIX}/jointokens/{_TOKEN}/rotate/?$", RotateView.as_view(), name="nodegroup-jointoken-rotate"),
    re_path(rf"{_PREFIX}/joinrequests/?$", JoinRequestsView.as_view(), name="nodegroup-joinrequests"),
    re_path(rf"{_PREFIX}/joinrequests/(?P<node>{DNS1123_LABEL_BODY}[a-z0-9.-]*)/approve/?$",
            ApproveView.as_view(), name="nodegroup-joinrequest-approve"),
    re_path(rf"{_PREFIX}/joinrequests/(?P<node>{DNS1123_LABEL_BODY}[a-z0-9.-]*)/reject/?$",
            RejectView.as_view(), name="nodegroup-joinrequest-reject"),
]
