"""A small two-cluster fleet with both views, and custom roles for every level."""
from __future__ import annotations

from tests.factories import IAMRoleFactory

READ = ["get", "list", "watch"]
ALL_KINDS = [
    {"apiGroups": ["scope.theriseunion.io"], "resources": ["clusters", "workspaces", "nodegroups"], "verbs": READ},
    {"apiGroups": [""], "resources": ["namespaces", "nodes", "pods"], "verbs": READ},
]
LEVELS = ("platform", "cluster", "workspace", "nodegroup", "namespace", "node")


def role_manifest(name: str, level: str, rules: list, ui: list | None = None, value: str = "",
                  cluster: str = "") -> dict:
    """An IAMRole with its own rules."""
    return IAMRoleFactory.build(name=name, level=level, value=value, cluster=cluster, rules=rules,
                                ui_permissions=ui or [])


def build(platform) -> dict:
    """Clusters c1, c2; c1: w1{n1,n2}, w2{n3}, ns loose, g1{x1,x2}, g2{x3}, node free; c2: w3{n1}, g3{x1}.

    Returns the scope objects by a short key ("c1", "c1/w1", "c1/n1", "c2/x1", …) and creates a reader
    role per level (``reader-<level>``).
    """
    objs = {}
    for cluster in ("c1", "c2"):
        objs[cluster] = platform.cluster(cluster)
    for ws, cluster in (("w1", "c1"), ("w2", "c1"), ("w3", "c2")):
        objs[f"{cluster}/{ws}"] = platform.workspace(ws, cluster)
    for ng, cluster in (("g1", "c1"), ("g2", "c1"), ("g3", "c2")):
        objs[f"{cluster}/{ng}"] = platform.nodegroup(ng, cluster)
    for ns, cluster, ws in (("n1", "c1", "w1"), ("n2", "c1", "w1"), ("n3", "c1", "w2"), ("loose", "c1", None),
                            ("n1", "c2", "w3")):
        objs[f"{cluster}/{ns}"] = platform.namespace(ns, cluster, ws)
    for node, cluster, ng in (("x1", "c1", "g1"), ("x2", "c1", "g1"), ("x3", "c1", "g2"), ("free", "c1", None),
                              ("x1", "c2", "g3")):
        objs[f"{cluster}/{node}"] = platform.node(node, cluster, ng)
    platform.apply(*[role_manifest(f"reader-{level}", level, ALL_KINDS, [f"{level}/everything.view"])
                     for level in LEVELS])
    return objs


#: where a grant at each level is made in the matrix: (scope value, cluster label)
GRANT_AT = {
    "platform": ("global", ""),
    "cluster": ("c1", ""),
    "workspace": ("w1", ""),
    "namespace": ("n1", "c1"),
    "nodegroup": ("g1", ""),
    "node": ("x1", "c1"),
}
