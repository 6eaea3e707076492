"""Join tokens and joining nodes of a node group, under the node group's URL (``clusters.join_tokens``):

* ``GET    /oapis/scope.theriseunion.io/v1alpha1/nodegroups/<g>/jointokens`` — ``JoinTokenList`` (no secrets);
* ``POST   …/nodegroups/<g>/jointokens`` ``{"ttlSeconds": 3600, "description": "..."}`` — 201 ``JoinToken`` with
  ``secret`` and ``command`` (the ready-to-paste ``keadm join`` / ``yurtadm join``): the only answer that has them;
* ``DELETE …/nodegroups/<g>/jointokens/<id>`` — revoke (the token, ``phase: Revoked``);
* ``POST   …/nodegroups/<g>/jointokens/<id>/rotate`` — revoke it and issue a new one (201, as a POST above);
* ``GET    …/nodegroups/<g>/joinrequests[?phase=Pending]`` — ``NodeJoinList``: nodes that registered with a token;
* ``POST   …/nodegroups/<g>/joinrequests/<node>/approve`` and ``…/reject``.

A node group the caller may not see is 404, as a missing one; the engine decides the rest at the node group's scope
(``list nodes`` to read, ``update nodes`` to change), 403 otherwise; bad input is a 422 Status naming the field.
Every change is audited (the write path's events for the node, ``jointokens`` events for tokens).
"""
from __future__ import annotations

from django.urls import re_path
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import join_tokens
from clusters.models import JoinToken, NodeGroup, NodeJoin
from edgeplatform.resources.errors import cause, invalid, not_found
from edgeplatform.resources.names import DNS1123_LABEL_BODY, NAME_IN_URL

__all__ = ["urlpatterns"]

GROUP = "scope.theriseunion.io"
API_VERSION = f"{GROUP}/v1alpha1"


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

    def get(self, request, name: str):
        """``JoinTokenList``: the group's tokens, newest first, without secrets."""
        group = _group(request, name)
        return Response({"apiVersion": API_VERSION, "kind": "JoinTokenList", "metadata": {"name": group.name},
                         "items": join_tokens.tokens(group, user=request.user)})

    def post(self, request, name: str):
        """Issue a token; the answer carries its secret and join command, once."""
        group = _group(request, name)
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise invalid("JoinToken", "", [cause("body", "must be a JSON object")], GROUP)
        unknown = sorted(set(body) - {"ttlSeconds", "description", "apiVersion", "kind", "metadata"})
        if unknown:
            raise invalid("JoinToken", "", [cause(field, "unknown field", "FieldValueNotSupported")
                                            for field in unknown], GROUP)
        issued = join_tokens.issue(group, user=request.user, ttl=body.get("ttlSeconds"),
                                   description=body.get("description") or "")
        return Response(_issued(issued), status=201)


class JoinTokenView(APIView):
    """One join token: read, revoke."""

    def get(self, request, name: str, token: str):
        """The token (no secret)."""
        group = _group(request, name)
        join_tokens._authorize(request.user, "list", group)
        return Response(_one(_token(group, token)))

    def delete(self, request, name: str, token: str):
        """Revoke it: refused from now on, its bootstrap token gone from the member."""
        group = _group(request, name)
        join_tokens._authorize(request.user, "update", group)
        return Response(_one(join_tokens.revoke(_token(group, token), user=request.user)))


class RotateView(APIView):
    """Rotate a join token."""

    def post(self, request, name: str, token: str):
        """Revoke it and issue a new one with the same lifetime (201, with the new secret and command)."""
        group = _group(request, name)
        join_tokens._authorize(request.user, "update", group)
        return Response(_issued(join_tokens.rotate(_token(group, token), user=request.user)), status=201)


class JoinRequestsView(APIView):
    """Nodes that registered for a node group with a join token."""

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
    """Approve or reject a joining node."""

    action = ""

    def post(self, request, name: str, node: str):
        """The node's join record after the decision."""
        group = _group(request, name)
        decide = join_tokens.approve if self.action == "approve" else join_tokens.reject
        view = decide(group, node, user=request.user)
        return Response({"apiVersion": API_VERSION, "kind": "NodeJoin", "metadata": {"name": node}, **view})


_PREFIX = rf"^oapis/{GROUP}/v1alpha1/nodegroups/(?P<name>{NAME_IN_URL})"
_TOKEN = r"(?P<token>[a-z0-9]{6})"
#: included by ``clusters.api.urls``
urlpatterns = [
    re_path(rf"{_PREFIX}/jointokens/?$", JoinTokensView.as_view(), name="nodegroup-jointokens"),
    re_path(rf"{_PREFIX}/jointokens/{_TOKEN}/?$", JoinTokenView.as_view(), name="nodegroup-jointoken"),
    re_path(rf"{_PREFIX}/jointokens/{_TOKEN}/rotate/?$", RotateView.as_view(), name="nodegroup-jointoken-rotate"),
    re_path(rf"{_PREFIX}/joinrequests/?$", JoinRequestsView.as_view(), name="nodegroup-joinrequests"),
    re_path(rf"{_PREFIX}/joinrequests/(?P<node>{DNS1123_LABEL_BODY}[a-z0-9.-]*)/approve/?$",
            DecisionView.as_view(action="approve"), name="nodegroup-joinrequest-approve"),
    re_path(rf"{_PREFIX}/joinrequests/(?P<node>{DNS1123_LABEL_BODY}[a-z0-9.-]*)/reject/?$",
            DecisionView.as_view(action="reject"), name="nodegroup-joinrequest-reject"),
]
