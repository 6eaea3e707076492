"""Translating a role's effective rules into rules a member cluster's RBAC understands.

* Rules for the platform's own API groups (``*.theriseunion.io``: IAM, scopes, apps, extensions) are dropped:
  those kinds live on the platform and its host cluster, a member cluster does not serve them, and the
  platform's own API enforces them. A rule naming platform and native groups keeps only the native ones.
  ``*`` is kept as it is (on a member cluster it can only reach what that cluster serves).
* Verbs, resources and resourceNames are kept; ``nonResourceURLs`` rules are kept (they only take effect
  through a ClusterRoleBinding, i.e. for Cluster-level bindings).
* For a node group or node, ``node_rules`` keeps only what RBAC can confine to named nodes: rules on
  ``nodes`` (and its subresources) with ``resourceNames`` set to those nodes. Namespaced resources such as
  the pods running on those nodes cannot be confined to a node by RBAC; granting them cluster-wide would be
  wider than the platform grant, so they are left out.
"""
from __future__ import annotations

PLATFORM_GROUP_SUFFIX = "theriseunion.io"
NODE_RESOURCE = "nodes"


def is_platform_group(group: str) -> bool:
    """Whether an API group is one of the platform's own (served by the platform, not by member clusters)."""
    return group == PLATFORM_GROUP_SUFFIX or group.endswith("." + PLATFORM_GROUP_SUFFIX)


def _unique(items: list) -> list:
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def translate_rules(rules: list[dict]) -> list[dict]:
    """A role's effective rules as member-cluster PolicyRules (platform groups dropped, duplicates merged)."""
    out: list[dict] = []
    for rule in rules or []:
        verbs = _unique([str(v) for v in rule.get("verbs") or []])
        if not verbs:
            continue
        if rule.get("nonResourceURLs") and not rule.get("resources"):
            translated = {"nonResourceURLs": _unique(list(rule["nonResourceURLs"])), "verbs": verbs}
        else:
            groups = _unique([g for g in rule.get("apiGroups") or [] if not is_platform_group(g)])
            resources = _unique(list(rule.get("resources") or []))
            if not groups or not resources:
                continue
            translated = {"apiGroups": groups, "resources": resources}
            if rule.get("resourceNames"):
                translated["resourceNames"] = _unique(list(rule["resourceNames"]))
            translated["verbs"] = verbs
        if translated not in out:
            out.append(translated)
    return out


def node_rules(rules: list[dict], nodes: list[str]) -> list[dict]:
    """The part of translated ``rules`` that applies to nodes, confined to ``nodes`` by ``resourceNames``.

    Empty when ``nodes`` is empty: a rule without resourceNames would grant on every node.
    """
    names = sorted(set(nodes))
    if not names:
        return []
    out: list[dict] = []
    for rule in rules:
        groups = rule.get("apiGroups") or []
        if "" not in groups and "*" not in groups:
            continue
        resources = rule.get("resources") or []
        node_resources = [r for r in resources if r == NODE_RESOURCE or r.startswith(NODE_RESOURCE + "/")]
        if "*" in resources and NODE_RESOURCE not in node_resources:
            node_resources.insert(0, NODE_RESOURCE)
        allowed = names
        if rule.get("resourceNames"):
            allowed = [n for n in names if n in rule["resourceNames"]]
        if not node_resources or not allowed:
            continue
        confined = {"apiGroups": [""], "resources": node_resources, "resourceNames": allowed,
                    "verbs": list(rule["verbs"])}
        if confined not in out:
            out.append(confined)
    return out
