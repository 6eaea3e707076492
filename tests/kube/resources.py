"""The kinds the emulator serves and the discovery documents that describe them.

Built-in kinds are a fixed table; a CustomResourceDefinition adds one ``ResourceType`` per served version when it
is created (and removes them when it is deleted), which is how custom resources become reachable.
"""
from __future__ import annotations

from dataclasses import dataclass, field

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class ResourceType:
    """One REST resource: where it lives, what it is called, how it behaves."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: list[str] = field(default_factory=list)
    status_subresource: bool = False
    custom: bool = False  # a custom resource (CRD semantics: generation, no unconditional PUT, validation)
    schema: dict | None = None  # openAPIV3Schema of this version, for custom resources
    preserve_unknown: bool = False
    categories: list[str] = field(default_factory=list)
    generation: bool = False  # built-in kinds whose spec changes bump metadata.generation (workloads, PDBs)
    # other subresources: name → (APIResource kind, group, version, verbs), e.g. pods/eviction
    subresources: dict[str, tuple[str, str, str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def tracks_generation(self) -> bool:
        """Whether ``metadata.generation`` is kept (custom resources, CRDs and the built-in kinds that have it)."""
        return self.custom or self.generation or self.kind == "CustomResourceDefinition"

    @property
    def api_version(self) -> str:
        """``group/version`` or ``v1`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Objects are stored per (group, plural): every version of a kind shares one store."""
        return self.group, self.plural

    @property
    def group_version(self) -> tuple[str, str]:
        """(group, version) of this resource."""
        return self.group, self.version

    def discovery(self) -> list[dict]:
        """APIResource entries (the resource and its status subresource) for an APIResourceList."""
        main = {"name": self.plural, "singularName": self.singular or self.kind.lower(),
                "namespaced": self.namespaced, "kind": self.kind, "verbs": list(VERBS),
                "storageVersionHash": ""}
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        entries = [main]
        if self.status_subresource:
            entries.append({"name": f"{self.plural}/status", "singularName": "", "namespaced": self.namespaced,
                            "kind": self.kind, "verbs": ["get", "patch", "update"]})
        for name, (kind, group, version, verbs) in self.subresources.items():
            entry = {"name": f"{self.plural}/{name}", "singularName": "", "namespaced": self.namespaced,
                     "kind": kind, "verbs": list(verbs)}
            if group or version:
                entry.update(group=group, version=version)
            entries.append(entry)
        return entries


def _core(plural, kind, namespaced, short=(), status=False, **extra):
    return ResourceType("", "v1", plural, kind, namespaced, short_names=list(short), status_subresource=status,
                        **extra)


def _typed(group, plural, kind, short=(), status=True, generation=True, categories=()):
    return ResourceType(group, "v1", plural, kind, True, short_names=list(short), status_subresource=status,
                        generation=generation, categories=list(categories))


def _rbac(plural, kind, namespaced):
    return ResourceType("rbac.authorization.k8s.io", "v1", plural, kind, namespaced)


BUILTINS: list[ResourceType] = [
    _core("namespaces", "Namespace", False, ("ns",), status=True,
          subresources={"finalize": ("Namespace", "", "", ("update",))}),
    _core("nodes", "Node", False, ("no",), status=True),
    _core("secrets", "Secret", True),
    _core("configmaps", "ConfigMap", True, ("cm",)),
    _core("serviceaccounts", "ServiceAccount", True, ("sa",)),
    _core("pods", "Pod", True, ("po",), status=True, categories=["all"],
          subresources={"eviction": ("Eviction", "policy", "v1", ("create",)),
                        "binding": ("Binding", "", "", ("create",))}),
    _core("services", "Service", True, ("svc",), status=True, categories=["all"]),
    _core("events", "Event", True, ("ev",)),
    _core("resourcequotas", "ResourceQuota", True, ("quota",), status=True),
    _typed("apps", "deployments", "Deployment", ("deploy",), categories=("all",)),
    _typed("apps", "replicasets", "ReplicaSet", ("rs",), categories=("all",)),
    _typed("apps", "statefulsets", "StatefulSet", ("sts",), categories=("all",)),
    _typed("apps", "daemonsets", "DaemonSet", ("ds",), categories=("all",)),
    _typed("policy", "poddisruptionbudgets", "PodDisruptionBudget", ("pdb",)),
    _typed("coordination.k8s.io", "leases", "Lease", status=False, generation=False),
    _typed("events.k8s.io", "events", "Event", ("ev",), status=False, generation=False),
    _rbac("roles", "Role", True),
    _rbac("rolebindings", "RoleBinding", True),
    _rbac("clusterroles", "ClusterRole", False),
    _rbac("clusterrolebindings", "ClusterRoleBinding", False),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
                 short_names=["crd", "crds"], status_subresource=True),
]


def types_from_crd(crd: dict) -> list[ResourceType]:
    """One ResourceType per served version of a CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or None
        out.append(ResourceType(
            spec.get("group", ""), version["name"], names.get("plural", ""), names.get("kind", ""),
            spec.get("scope", "Namespaced") == "Namespaced", singular=names.get("singular", ""),
            short_names=list(names.get("shortNames") or []), categories=list(names.get("categories") or []),
            status_subresource="status" in (version.get("subresources") or {}), custom=True, schema=schema,
            preserve_unknown=bool((schema or {}).get("x-kubernetes-preserve-unknown-fields"))))
    return out


def crd_established(crd: dict) -> dict:
    """The status a real API server reports once a CRD's names are accepted and it serves requests."""
    names = (crd.get("spec") or {}).get("names") or {}
    accepted = {k: v for k, v in names.items()}
    accepted.setdefault("singular", (names.get("kind") or "").lower())
    accepted.setdefault("listKind", f"{names.get('kind', '')}List")
    conditions = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted"},
    ]
    versions = [v["name"] for v in (crd.get("spec") or {}).get("versions") or [] if v.get("storage")]
    return {"acceptedNames": accepted, "conditions": conditions, "storedVersions": versions}


def group_document(group: str, versions: list[str]) -> dict:
    """An APIGroup entry (used in /apis and /apis/<group>)."""
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def version_priority(version: str) -> tuple:
    """Kubernetes' version ordering: GA before beta before alpha, higher numbers first."""
    import re

    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0))
