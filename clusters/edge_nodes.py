"""The console's "Edge nodes" page: per node group, the cluster's edge runtime health, a join command generator
(runtime-aware; the command is shown once, with a copy button), the group's join tokens with revoke and rotate,
and the nodes that registered with a token, to approve or reject (the list follows new arrivals without a reload,
``static/console/edge-join.js`` polling the API's ``joinrequests``). Every action is the same service the API calls
(``clusters.join_tokens``): authorized by the engine at the node group's scope and audited; buttons are offered
only where the engine allows them."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from clusters import edge_runtime, join_tokens
from clusters.models import JoinToken, NodeGroup
from edgeplatform.console.site import ConsolePage, console
from edgeplatform.resources.errors import StatusError

__all__ = ["IssueForm", "edge_nodes_view"]

RESOURCE = ("scope.theriseunion.io", "nodegroups", "NodeGroup")


class IssueForm(forms.Form):
    """A join token's lifetime and what it is for."""

    ttl_hours = forms.FloatField(label="Valid for (hours)", min_value=0.1,
                                 help_text="At most EDGE_JOIN_TOKEN_MAX_TTL.")
    description = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ttl_hours"].initial = round(settings.EDGE_JOIN_TOKEN_TTL / 3600, 2)
        self.fields["ttl_hours"].max_value = settings.EDGE_JOIN_TOKEN_MAX_TTL / 3600


def _groups(request):
    return NodeGroup.objects.restrict(request.user, "get").select_related("cluster").order_by("cluster__name", "name")


def _may_see_any(request) -> bool:
    return _groups(request).exists()


def _runtime(group: NodeGroup) -> dict:
    cluster = group.cluster
    shown = (cluster.status or {}).get("edgeRuntime") or {}
    return {"type": edge_runtime.runtime_of(cluster), "version": edge_runtime.version_of(cluster),
            "phase": shown.get("phase") or ("" if edge_runtime.runtime_of(cluster) == "none" else "Pending"),
            "components": sorted((shown.get("components") or {}).items()),
            "message": next((c.get("message") for c in (cluster.status or {}).get("conditions") or []
                             if c.get("type") == edge_runtime.CONDITION), "")}


def edge_nodes_view(request):
    """``?group=<name>``: that node group's runtime, join tokens and joining nodes; POST does one action."""
    groups = list(_groups(request))
    group = next((g for g in groups if g.name == request.GET.get("group")), groups[0] if groups else None)
    issued = None
    form = IssueForm()
    if group is not None and request.method == "POST":
        response, issued, form = _act(request, group)
        if response is not None:
            return response
    context = {**console.each_context(request), "title": "Edge nodes", "groups": groups, "group": group,
               "issued": issued, "form": form}
    if group is not None:
        may_view = join_tokens.may(request.user, "list", group)
        may_manage = join_tokens.may(request.user, "update", group)
        context.update(runtime=_runtime(group), may_view=may_view, may_manage=may_manage,
                       tokens=join_tokens.tokens(group, user=request.user) if may_view else [],
                       joins=join_tokens.joins(group, user=request.user) if may_view else [],
                       api_url=f"/oapis/scope.theriseunion.io/v1alpha1/nodegroups/{group.name}/joinrequests",
                       page_url=f"{reverse('admin:edge_nodes')}?group={group.name}")
    response = TemplateResponse(request, "console/edge_nodes.html", context)
    if issued is not None:
        response["Cache-Control"] = "no-store"  # the command holds a secret: never kept by a cache
    return response


def _act(request, group: NodeGroup):
    """One POSTed action: (redirect or None, the token just issued or None, the issue form)."""
    action = request.POST.get("action", "")
    again = HttpResponseRedirect(f"{reverse('admin:edge_nodes')}?group={group.name}")
    form = IssueForm()
    try:
        if action == "issue":
            form = IssueForm(request.POST)
            if not form.is_valid():
                return None, None, form
            issued = join_tokens.issue(group, user=request.user, ttl=round(form.cleaned_data["ttl_hours"] * 3600),
                                       description=form.cleaned_data["description"])
            messages.success(request, f"Join token {issued.token.token_id} issued. Copy the command now: it is "
                                      f"not shown again.")
            return None, issued, IssueForm()
        token = JoinToken.objects.select_related("nodegroup", "cluster").filter(
            nodegroup=group, token_id=request.POST.get("token", "")).first()
        if action in ("revoke", "rotate") and token is None:
            messages.error(request, "No such join token.")
            return again, None, form
        if action == "revoke":
            join_tokens.revoke(token, user=request.user)
            messages.success(request, f"Join token {token.token_id} revoked.")
            return again, None, form
        if action == "rotate":
            issued = join_tokens.rotate(token, user=request.user)
            messages.success(request, f"Join token {token.token_id} replaced by {issued.token.token_id}. Copy the "
                                      f"command now: it is not shown again.")
            return None, issued, form
        if action in ("approve", "reject"):
            node = request.POST.get("node", "")
            (join_tokens.approve if action == "approve" else join_tokens.reject)(group, node, user=request.user)
            messages.success(request, f"Node {node} {'approved' if action == 'approve' else 'rejected'}.")
            return again, None, form
    except StatusError as error:
        messages.error(request, error.message)
        return again, None, form
    messages.error(request, "Unknown action.")
    return again, None, form


console.register_page(ConsolePage("edge_nodes", "Edge nodes", "edge-nodes/", edge_nodes_view, _may_see_any,
                                  section="Clusters", resource=RESOURCE))
