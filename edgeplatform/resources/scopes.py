"""Scope paths: how the five levels are addressed (DESIGN §3).

A path names one scope: ``platform``, ``clusters/c1``, ``clusters/c1/workspaces/w1``,
``clusters/c1/workspaces/w1/namespaces/n1``, ``clusters/c1/nodegroups/g1/nodes/x1``;
a namespace outside any workspace is ``clusters/c1/namespaces/n1`` and a node outside any
node group ``clusters/c1/nodes/x1``. The chain of a path is the path and its ancestors,
most specific first, ending at ``platform``.
"""
from __future__ import annotations

from functools import lru_cache

PLATFORM = "platform"

#: scope level name → the collection segment that introduces it in a path
LEVEL_SEGMENTS = {
    "cluster": "clusters",
    "workspace": "workspaces",
    "nodegroup": "nodegroups",
    "namespace": "namespaces",
    "node": "nodes",
}
SEGMENT_LEVELS = {segment: level for level, segment in LEVEL_SEGMENTS.items()}
LEVELS = ("platform", "cluster", "workspace", "nodegroup", "namespace", "node")
#: the level directly above each level (namespace/node may also sit right under a cluster)
PARENT_LEVEL = {"cluster": "platform", "workspace": "cluster", "nodegroup": "cluster",
                "namespace": "workspace", "node": "nodegroup"}
#: levels whose object names repeat across clusters, so a scope label needs the cluster too
CLUSTER_QUALIFIED = frozenset({"namespace", "node"})
#: the value the reference implementation writes for the platform scope
PLATFORM_VALUES = frozenset({"", "global", "platform"})


@lru_cache(maxsize=200_000)
def chain(path: str) -> tuple[str, ...]:
    """The path and its ancestors, most specific first, ending at ``platform``."""
    if path == PLATFORM:
        return (PLATFORM,)
    parts = path.split("/")
    prefixes = tuple("/".join(parts[:end]) for end in range(len(parts), 0, -2))
    return (*prefixes, PLATFORM)


def level_of(path: str) -> str:
    """The level of the scope a path names."""
    if path == PLATFORM:
        return PLATFORM
    return SEGMENT_LEVELS[path.rsplit("/", 2)[-2]]


def name_of(path: str) -> str:
    """The name of the scope object a path names (``global`` for the platform)."""
    return "global" if path == PLATFORM else path.rsplit("/", 1)[-1]


def cluster_of(path: str) -> str | None:
    """The cluster a path lies in, or None for the platform."""
    parts = path.split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "clusters" else None


def join(parent: str, level: str, name: str) -> str:
    """The path of the scope object ``name`` of ``level`` directly under ``parent``."""
    segment = f"{LEVEL_SEGMENTS[level]}/{name}"
    return segment if parent == PLATFORM else f"{parent}/{segment}"


def is_within(path: str, ancestor: str) -> bool:
    """True when ``path`` is ``ancestor`` or lies below it."""
    return ancestor == PLATFORM or path == ancestor or path.startswith(ancestor + "/")


_models: dict[str, type] = {}


def register_scope_model(level: str, model: type) -> None:
    """Make ``model`` the one that stores scope objects of ``level`` (called by the clusters app)."""
    _models[level] = model


def scope_model(level: str) -> type:
    """The model that stores scope objects of ``level``."""
    return _models[level]


def resolve(level: str, value: str | None, cluster: str | None = None) -> str | None:
    """The path of the scope named by scope labels, or None when no such scope exists.

    ``value`` is the object's name; namespaces and nodes also need ``cluster`` unless the
    name is unique across clusters.
    """
    if level == PLATFORM:
        return PLATFORM if (value or "") in PLATFORM_VALUES else None
    if level not in _models:
        return None
    qs = _models[level].objects.filter(name=value)
    if level in CLUSTER_QUALIFIED or (cluster and level != "cluster"):
        if cluster:
            qs = qs.filter(cluster__name=cluster)
    paths = list(qs.values_list("scope_path", flat=True)[:2])
    return paths[0] if len(paths) == 1 else None
