"""The console's fleet overview (``/console/fleet/``): every cluster the user may list, with its type, edge
runtime, Kubernetes version, Ready, nodes ready/total and last heartbeat, filtered by type, runtime, readiness
and name; and a picture of the fleet: one tile per cluster, its workspaces (with their namespace counts) and node
groups (with their ready / not-ready nodes, and the names of the nodes that are not Ready), coloured green,
amber or red.

Everything comes from the engine's restricted querysets (clusters, workspaces, node groups, namespaces and nodes
the user may list), in a fixed number of queries whatever the number of clusters on the page: one for the page of
clusters, one counting nodes per cluster and node group, one for the nodes that are not Ready (capped), one each
for the node groups, the workspaces and the namespace counts.

A heartbeat is stale when it is older than ``EDGE_CLUSTER_HEARTBEAT_INTERVAL`` (the heartbeat moves at most that
often while nothing changes) plus ``STALE_PERIODS`` health periods (``EDGE_CLUSTER_HEALTH_PERIOD``).
"""
from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from clusters.annotations import EDGE_RUNTIMES
from clusters.models import Cluster, Namespace, Node, NodeGroup, Workspace
from edgeplatform.console import access
from edgeplatform.console.site import ConsolePage, console
from edgeplatform.controllers import clock

__all__ = ["STALE_PERIODS", "fleet_view", "relative_age"]

#: health periods beyond the heartbeat interval after which a heartbeat is marked stale
STALE_PERIODS = 3
#: clusters per page of the overview
PER_PAGE = 100
#: names of not-Ready nodes shown per node group (the rest is counted)
NOT_READY_SHOWN = 12
LIST_UI = ("platform/clusters.view", "cluster/overview.view")


def _may_see(request) -> bool:
    return access.may_somewhere(request.user, "list", Cluster._converter, LIST_UI)


def relative_age(seconds: float) -> str:
    """``just now``, ``40 s ago``, ``2 min ago``, ``3 h ago``, ``5 d ago``."""
    seconds = max(0, int(seconds))
    if seconds < 10:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _heartbeat(status: dict, now: datetime) -> tuple[str, str, bool]:
    """(relative age, ISO time, stale) of a cluster's ``lastHeartbeatTime``; ("never", "", True) without one."""
    stored = status.get("lastHeartbeatTime")
    try:
        when = datetime.fromisoformat(str(stored).replace("Z", "+00:00")) if stored else None
    except ValueError:
        when = None
    if when is None:
        return "never", "", True
    age = (now - when).total_seconds()
    limit = settings.EDGE_CLUSTER_HEARTBEAT_INTERVAL + STALE_PERIODS * settings.EDGE_CLUSTER_HEALTH_PERIOD
    return relative_age(age), stored, age > limit


def _filtered(request, params: dict):
    rows = Cluster.objects.restrict(request.user, "list")
    if params["type"] in ("physical", "virtual"):
        rows = rows.filter(type=params["type"])
    if params["runtime"] == "none":
        rows = rows.filter(Q(spec__edgeRuntime__type="none") | Q(spec__edgeRuntime__type__isnull=True))
    elif params["runtime"] in EDGE_RUNTIMES:
        rows = rows.filter(spec__edgeRuntime__type=params["runtime"])
    if params["ready"] == "ready":
        rows = rows.filter(ready=True)
    elif params["ready"] == "notready":
        rows = rows.filter(ready=False)
    if params["q"]:
        rows = rows.filter(name__icontains=params["q"])
    return rows.order_by("name")


def _health(ready: bool, phase: str, stale: bool, nodes_ready: int, nodes_total: int) -> str:
    """green (Ready, its nodes Ready, heartbeat fresh), red (not Ready: unreachable or failed), amber otherwise."""
    if not ready:
        return "amber" if phase in ("", "Pending") else "red"
    return "green" if not stale and nodes_ready == nodes_total else "amber"


def _group_health(ready: int, total: int) -> str:
    return "green" if ready == total else "red" if ready == 0 else "amber"


def fleet_view(request):
    """The overview: filters, the table and the picture (see the module docstring)."""
    params = {key: (request.GET.get(key) or "").strip() for key in ("type", "runtime", "ready", "q")}
    paginator = Paginator(_filtered(request, params).only(
        "id", "name", "type", "ready", "phase", "spec", "status"), PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    clusters = list(page.object_list)
    ids = [cluster.pk for cluster in clusters]
    user = request.user
    counts: dict[tuple[int, int | None], dict] = {}
    not_ready: dict[tuple[int, int | None], list[str]] = {}
    groups: dict[int, list] = {}
    workspaces: dict[int, list] = {}
    namespaces: dict[tuple[int, int | None], int] = {}
    if ids:
        nodes = Node.objects.restrict(user, "list").filter(cluster_id__in=ids)
        for row in nodes.values("cluster_id", "nodegroup_id").annotate(
                total=Count("id"), ready=Count("id", filter=Q(status__ready="True"))).order_by():
            counts[(row["cluster_id"], row["nodegroup_id"])] = row
        limit = NOT_READY_SHOWN * max(1, len(ids)) * 4
        for row in nodes.exclude(status__ready="True").order_by("cluster_id", "nodegroup_id", "name").values(
                "cluster_id", "nodegroup_id", "name")[:limit]:
            shown = not_ready.setdefault((row["cluster_id"], row["nodegroup_id"]), [])
            if len(shown) < NOT_READY_SHOWN:
                shown.append(row["name"])
        for row in NodeGroup.objects.restrict(user, "list").filter(cluster_id__in=ids).order_by("name").values(
                "id", "name", "cluster_id"):
            groups.setdefault(row["cluster_id"], []).append(row)
        for row in Workspace.objects.restrict(user, "list").filter(cluster_id__in=ids).order_by("name").values(
                "id", "name", "cluster_id"):
            workspaces.setdefault(row["cluster_id"], []).append(row)
        for row in Namespace.objects.restrict(user, "list").filter(cluster_id__in=ids).values(
                "cluster_id", "workspace_id").annotate(n=Count("id")).order_by():
            namespaces[(row["cluster_id"], row["workspace_id"])] = row["n"]
    now = clock.now()
    rows = []
    for cluster in clusters:
        status, spec = cluster.status or {}, cluster.spec or {}
        per_group = {key[1]: value for key, value in counts.items() if key[0] == cluster.pk}
        total = sum(value["total"] for value in per_group.values())
        ready_nodes = sum(value["ready"] for value in per_group.values())
        age, when, stale = _heartbeat(status, now)
        node_groups = []
        for group in groups.get(cluster.pk, []):
            found = per_group.get(group["id"], {"total": 0, "ready": 0})
            node_groups.append(_group(group["name"], found, not_ready.get((cluster.pk, group["id"]), [])))
        if None in per_group:
            node_groups.append(_group("", per_group[None], not_ready.get((cluster.pk, None), [])))
        rows.append({
            "name": cluster.name, "type": cluster.type,
            "runtime": ((spec.get("edgeRuntime") or {}).get("type") or "none"),
            "version": status.get("kubernetesVersion") or "", "ready": cluster.ready,
            "phase": cluster.phase or "Pending", "reason": _ready_reason(status),
            "nodes_ready": ready_nodes, "nodes_total": total,
            "heartbeat": age, "heartbeat_time": when, "stale": stale,
            "health": _health(cluster.ready, cluster.phase, stale, ready_nodes, total),
            "url": reverse("admin:clusters_cluster_change", args=[cluster.pk]),
            "node_groups": node_groups,
            "workspaces": [{"name": ws["name"], "namespaces": namespaces.get((cluster.pk, ws["id"]), 0)}
                           for ws in workspaces.get(cluster.pk, [])],
            "loose_namespaces": namespaces.get((cluster.pk, None), 0),
        })
    query = {key: value for key, value in params.items() if value}
    context = {
        **console.each_context(request), "title": "Fleet overview", "rows": rows, "params": params,
        "page": page, "paginator": paginator, "query": urlencode(query),
        "types": ("physical", "virtual"), "runtimes": tuple(EDGE_RUNTIMES),
        "totals": {"clusters": paginator.count, "shown": len(rows),
                   "ready": sum(1 for row in rows if row["ready"]),
                   "nodes_ready": sum(row["nodes_ready"] for row in rows),
                   "nodes_total": sum(row["nodes_total"] for row in rows)},
        "add_url": reverse("admin:clusters_cluster_add")
        if access.may_somewhere(user, "create", Cluster._converter, ("platform/clusters.manage",)) else "",
    }
    return TemplateResponse(request, "console/fleet.html", context)


def _group(name: str, found: dict, names: list[str]) -> dict:
    ready, total = found["ready"], found["total"]
    return {"name": name, "ready": ready, "total": total, "not_ready": total - ready,
            "not_ready_names": names, "more": max(0, total - ready - len(names)),
            "health": _group_health(ready, total)}


def _ready_reason(status: dict) -> str:
    for item in status.get("conditions") or []:
        if isinstance(item, dict) and item.get("type") == "Ready" and item.get("status") != "True":
            return f"{item.get('reason', '')}: {item.get('message', '')}".strip(": ")
    return ""


console.register_page(ConsolePage("fleet", "Fleet overview", "fleet/", fleet_view, _may_see, section="Fleet",
                                  resource=("scope.theriseunion.io", "clusters", "Cluster")))
