"""The desired RBAC objects of a member cluster, computed from the database.

How each level maps (subjects: platform users as ``User``, platform groups as ``Group``, service accounts as
they are):

=========  ===========================================================================================
Cluster    ClusterRole ``edge:role:<role>`` + ClusterRoleBinding ``edge:binding:<binding>``
Workspace  ClusterRole ``edge:role:<role>`` + a RoleBinding ``edge:binding:<binding>`` in every namespace
           of the workspace (namespaces added, moved in, moved out or removed are followed)
Namespace  ClusterRole ``edge:role:<role>`` + a RoleBinding ``edge:binding:<binding>`` in that namespace
NodeGroup  ClusterRole ``edge:binding:<binding>`` holding the role's node rules with ``resourceNames`` = the
           group's nodes (followed as nodes join and leave) + ClusterRoleBinding ``edge:binding:<binding>``
Node       the same as NodeGroup, for one node
=========  ===========================================================================================

Users disabled on the platform are left out of the subjects. Platform-level bindings are not translated
(they are the platform's own administration, not a member cluster's). A binding that would grant nothing
(no subjects, no rule left after translation, no namespace or node under its scope) makes no object, and a
role's ClusterRole exists only while a binding refers to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from edgeplatform.resources import scopes
from iam.native_rbac import naming
from iam.native_rbac.rules import node_rules, translate_rules

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_VERSION = f"{RBAC_GROUP}/v1"
NAMESPACE_LEVELS = frozenset({"workspace", "namespace"})
NODE_LEVELS = frozenset({"nodegroup", "node"})
TRANSLATED_LEVELS = frozenset({"cluster", *NAMESPACE_LEVELS, *NODE_LEVELS})

Key = tuple[str, str, str]  # (kind, namespace or "", name)

__all__ = ["RBAC_VERSION", "Key", "desired_objects", "key_of", "subjects_of"]


def key_of(manifest: dict) -> Key:
    """The identity of an RBAC object: kind, namespace ("" for cluster-scoped kinds), name."""
    meta = manifest.get("metadata") or {}
    return manifest["kind"], meta.get("namespace") or "", meta["name"]


@dataclass
class ClusterView:
    """The namespaces and nodes of one cluster by scope path (two queries, then grouping in memory)."""

    namespaces: list[tuple[str, str]] = field(default_factory=list)
    nodes: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, cluster) -> ClusterView:
        """Read the cluster's namespaces and nodes."""
        from clusters.models import Namespace, Node

        return cls(list(Namespace.objects.filter(cluster=cluster).values_list("scope_path", "name")),
                   list(Node.objects.filter(cluster=cluster).values_list("scope_path", "name")))

    @staticmethod
    def _under(rows: list[tuple[str, str]], path: str) -> list[str]:
        return sorted(name for row_path, name in rows if scopes.is_within(row_path, path))

    def namespaces_under(self, path: str) -> list[str]:
        """Names of the namespaces at or below ``path``."""
        return self._under(self.namespaces, path)

    def nodes_under(self, path: str) -> list[str]:
        """Names of the nodes at or below ``path``."""
        return self._under(self.nodes, path)


def cluster_bindings(cluster):
    """The bindings at Cluster, Workspace, Namespace, NodeGroup or Node level inside ``cluster``."""
    from iam.models import IAMRoleBinding

    root = scopes.join(scopes.PLATFORM, "cluster", cluster.name)
    return (IAMRoleBinding.objects.filter(Q(scope_path=root) | Q(scope_path__startswith=root + "/"))
            .select_related("role").order_by("name"))


def disabled_users(bindings) -> set[str]:
    """Names of the disabled platform users among the bindings' subjects (one query)."""
    from iam.models import User

    names = {s.get("name") for b in bindings for s in (b.spec or {}).get("subjects") or [] if s.get("kind") == "User"}
    if not names:
        return set()
    return set(User.objects.filter(name__in=names, is_active=False).values_list("name", flat=True))


def subjects_of(binding, disabled: frozenset | set = frozenset()) -> list[dict]:
    """A binding's subjects as RBAC subjects: users and groups by their platform names.

    Users disabled on the platform are left out, as the platform denies them too.
    """
    out = []
    for subject in (binding.spec or {}).get("subjects") or []:
        kind, name = subject.get("kind"), subject.get("name")
        if not name or (kind == "User" and name in disabled):
            continue
        if kind in ("User", "Group"):
            item = {"kind": kind, "apiGroup": RBAC_GROUP, "name": name}
        elif kind == "ServiceAccount" and subject.get("namespace"):
            item = {"kind": kind, "name": name, "namespace": subject["namespace"]}
        else:
            continue
        if item not in out:
            out.append(item)
    return out


def _cluster_role(name: str, labels: dict, annotations: dict, rules: list[dict]) -> dict:
    return {"apiVersion": RBAC_VERSION, "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels, "annotations": annotations}, "rules": rules}


def _binding(kind: str, name: str, namespace: str | None, labels: dict, annotations: dict, role_ref: str,
             subjects: list[dict]) -> dict:
    meta = {"name": name, "labels": labels, "annotations": annotations}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": RBAC_VERSION, "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role_ref}, "subjects": subjects}


def binding_objects(binding, rules: list[dict], view: ClusterView, disabled: frozenset | set = frozenset()
                    ) -> list[dict]:
    """The objects one binding needs (its role's ClusterRole excepted), given its role's translated rules."""
    level = scopes.level_of(binding.scope_path)
    subjects = subjects_of(binding, disabled)
    if level not in TRANSLATED_LEVELS or not subjects or not rules:
        return []
    role = binding.role.name
    name = naming.binding_object_name(binding.name)
    labels = naming.binding_labels(binding.name, role)
    annotations = {naming.BINDING_ANNOTATION: binding.name, naming.ROLE_ANNOTATION: role,
                   naming.SCOPE_ANNOTATION: binding.scope_path}
    if level == "cluster":
        return [_binding("ClusterRoleBinding", name, None, labels, annotations, naming.role_object_name(role),
                         subjects)]
    if level in NAMESPACE_LEVELS:
        return [_binding("RoleBinding", name, namespace, labels, annotations, naming.role_object_name(role),
                         subjects) for namespace in view.namespaces_under(binding.scope_path)]
    confined = node_rules(rules, view.nodes_under(binding.scope_path))
    if not confined:
        return []
    return [_cluster_role(name, labels, annotations, confined),
            _binding("ClusterRoleBinding", name, None, labels, annotations, name, subjects)]


def desired_objects(cluster, binding_name: str | None = None) -> dict[Key, dict]:
    """Every RBAC object ``cluster`` should carry, by key.

    With ``binding_name``: the objects of that binding plus every role ClusterRole the cluster needs (the
    set a targeted reconcile compares against).
    """
    view = ClusterView.load(cluster)
    translated: dict[int, list[dict]] = {}
    roles: dict[str, list[dict]] = {}
    out: dict[Key, dict] = {}
    bindings = list(cluster_bindings(cluster))
    disabled = disabled_users(bindings)
    for binding in bindings:
        if binding.role_id not in translated:
            translated[binding.role_id] = translate_rules(binding.role.effective_rules)
        rules = translated[binding.role_id]
        objects = binding_objects(binding, rules, view, disabled)
        if any(o["roleRef"]["name"] == naming.role_object_name(binding.role.name) for o in objects
               if "roleRef" in o):
            roles[binding.role.name] = rules
        if binding_name is None or binding.name == binding_name:
            out.update((key_of(o), o) for o in objects)
    for role, rules in roles.items():
        manifest = _cluster_role(naming.role_object_name(role), naming.role_labels(role),
                                 {naming.ROLE_ANNOTATION: role}, rules)
        out[key_of(manifest)] = manifest
    return out
