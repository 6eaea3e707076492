"""A deployment's progress as its page shows it and its status endpoint answers it (``status-poll.js`` polls that
one endpoint): the deployment's phase and version, each topology's phase and ready/total replicas, and the picture
of them (clusters → node groups, ready/total each, coloured by phase).

Every topology is placed on a cluster as the write path places it (``appstore.topologies``: its node group's
cluster, else its ``cluster``, else the deployment's home), the node groups looked up in one query whatever their
number (a deployment may reach hundreds of shops, and the page polls), and matched with its
``status.topologyStatuses`` entry by ``topologyIndex``.
"""
from __future__ import annotations

from appstore.manifests import TERMINAL_DEPLOYMENT_PHASES
from appstore.provisioners.base import CLOUD
from clusters.models import NodeGroup

__all__ = ["PHASE_RANK", "history", "progress"]

#: how bad a topology phase is: a cluster's tile takes its worst topology's
PHASE_RANK = {"Failed": 6, "Unreachable": 5, "Missing": 4, "Degraded": 4, "Progressing": 3, "Pending": 2,
              "Running": 1}


def _where(topology: dict) -> str:
    if topology.get("nodeGroup") == CLOUD:
        return "cloud side"
    if topology.get("nodeGroup"):
        return topology["nodeGroup"]
    if topology.get("nodeName"):
        return f"node {topology['nodeName']}"
    return "any node"


def _count(value, default=0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def progress(deployment) -> dict:
    """What the deployment page shows and its status endpoint answers (see the module docstring)."""
    status = deployment.status or {}
    spec = deployment.spec or {}
    wanted = [item for item in spec.get("topologies") or [] if isinstance(item, dict)]
    groups = {item.get("nodeGroup") for item in wanted if item.get("nodeGroup") not in (None, "", CLOUD)}
    group_cluster = dict(NodeGroup.objects.filter(name__in=groups).values_list("name", "cluster__name")) \
        if groups else {}
    reported = {item.get("topologyIndex"): item for item in status.get("topologyStatuses") or []
                if isinstance(item, dict)}
    entries = []
    for index, topology in enumerate(wanted or [{}]):
        found = reported.get(index) or {}
        total = _count(found.get("replicas"), _count(topology.get("replicas"), 1))
        ready = _count(found.get("readyReplicas"))
        cluster = group_cluster.get(topology.get("nodeGroup")) or topology.get("cluster") or deployment.cluster.name
        entries.append({"index": index, "cluster": cluster, "where": _where(topology),
                        "cloud": topology.get("nodeGroup") == CLOUD,
                        "phase": found.get("phase") or "Pending", "replicas": total, "readyReplicas": ready,
                        "ready": f"{ready}/{total}", "message": found.get("message") or "",
                        "workloadName": found.get("workloadName") or "",
                        "nodes": ", ".join(str(node) for node in found.get("nodes") or [])})
    clusters: dict[str, dict] = {}
    for entry in entries:
        tile = clusters.setdefault(entry["cluster"], {"name": entry["cluster"], "readyReplicas": 0, "replicas": 0,
                                                      "phase": "Running", "topologies": []})
        tile["readyReplicas"] += entry["readyReplicas"]
        tile["replicas"] += entry["replicas"]
        if PHASE_RANK.get(entry["phase"], 2) > PHASE_RANK.get(tile["phase"], 2):
            tile["phase"] = entry["phase"]
        tile["topologies"].append(entry)
    for tile in clusters.values():
        tile["ready"] = f"{tile['readyReplicas']}/{tile['replicas']}"
    phase = status.get("phase") or ("Deleting" if deployment.deletion_requested else "Pending")
    observed = _count(status.get("observedGeneration"))
    return {
        "name": deployment.name, "namespace": deployment.namespace, "cluster": deployment.cluster.name,
        "application": deployment.application.name, "requested": spec.get("version", ""),
        "phase": phase, "applicationVersion": status.get("applicationVersion") or "",
        "readyStatus": status.get("readyStatus") or f"{sum(e['readyReplicas'] for e in entries)}/"
                                                     f"{sum(e['replicas'] for e in entries)}",
        "message": status.get("message") or "", "reason": status.get("reason") or "",
        "observedGeneration": observed, "generation": deployment.generation,
        "deletionRequested": deployment.deletion_requested is not None,
        "terminal": phase in TERMINAL_DEPLOYMENT_PHASES and deployment.deletion_requested is None
        and observed >= deployment.generation
        and all(entry["phase"] in ("Running", "Failed") for entry in entries),
        "topologies": {str(entry["index"]): entry for entry in entries},
        "clusters": {name: {key: value for key, value in tile.items() if key != "topologies"}
                     for name, tile in clusters.items()},
        "pictured": list(clusters.values()),
    }


def history(deployment) -> list[dict]:
    """``status.history``, newest first."""
    entries = [item for item in (deployment.status or {}).get("history") or [] if isinstance(item, dict)]
    return list(reversed(entries))
