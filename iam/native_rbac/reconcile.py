"""Bringing a member cluster's RBAC objects to the desired state: read, compare, write only the difference.

The actual state is read with label selectors, so objects the platform did not make (without
``app.kubernetes.io/managed-by=edge-platform``) are never touched. An object that already matches (its rules,
roleRef, subjects and our labels/annotations) is not written, so a re-translation with nothing changed makes
no write at all; one edited by hand (drift) is applied again. Writes are server-side applies with field
manager ``edge-platform``; a binding whose role changed is deleted and re-created (``roleRef`` is immutable).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from edgeplatform.kube import KubeError, KubeNotConfigured, apply, ensure_absent, list_objects, member_client
from iam.native_rbac import naming
from iam.native_rbac.desired import RBAC_VERSION, Key, desired_objects, key_of

log = logging.getLogger(__name__)

__all__ = ["Result", "reconcile_binding", "reconcile_cluster"]

#: apply order (roles before the bindings that name them); deletes go the other way
KIND_ORDER = {"ClusterRole": 0, "ClusterRoleBinding": 1, "RoleBinding": 1}
_COMPARED = ("rules", "roleRef", "subjects")


@dataclass
class Result:
    """What one reconcile did."""

    cluster: str
    skipped: str = ""
    applied: list[Key] = field(default_factory=list)
    deleted: list[Key] = field(default_factory=list)
    unchanged: int = 0
    #: RoleBindings not written because their namespace does not exist on the cluster (yet)
    missing_namespaces: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        """Objects written or deleted."""
        return len(self.applied) + len(self.deleted)


def reconcile_cluster(cluster) -> Result:
    """Make ``cluster``'s RBAC objects exactly the translation of its bindings (level-based, idempotent)."""
    return _reconcile(cluster, None)


def reconcile_binding(cluster, binding_name: str) -> Result:
    """Converge only the objects of one binding (and the role ClusterRoles): cheaper than a full reconcile.

    A binding that no longer exists has its objects removed.
    """
    return _reconcile(cluster, binding_name)


def _reconcile(cluster, binding_name: str | None) -> Result:
    result = Result(cluster.name)
    try:
        client = member_client(cluster)
    except KubeNotConfigured as error:
        log.info("native RBAC: cluster %s skipped: %s", cluster.name, error)
        result.skipped = str(error)
        return result
    desired = desired_objects(cluster, binding_name)
    actual = _actual(client, binding_name)
    namespaces = {ns["metadata"]["name"] for ns in list_objects(client, "v1", "Namespace")}
    _converge(client, desired, actual, namespaces, result)
    log.info("native RBAC: cluster %s%s: %d applied, %d deleted, %d unchanged%s", cluster.name,
             f" binding {binding_name}" if binding_name else "", len(result.applied), len(result.deleted),
             result.unchanged, f", {len(result.errors)} failed" if result.errors else "")
    return result


def _actual(client, binding_name: str | None) -> dict[Key, dict]:
    """The objects we made that this reconcile is responsible for."""
    if binding_name is None:
        wanted = [(kind, naming.MANAGED_SELECTOR) for kind in KIND_ORDER]
    else:
        selector = naming.binding_selector(binding_name)
        wanted = [(kind, selector) for kind in KIND_ORDER] + [("ClusterRole", naming.ROLE_OBJECTS_SELECTOR)]
    out: dict[Key, dict] = {}
    for kind, selector in wanted:
        for item in list_objects(client, RBAC_VERSION, kind, label_selector=selector):
            out[key_of(item)] = item
    return out


def matches(desired: dict, actual: dict) -> bool:
    """Whether ``actual`` already says what ``desired`` says (our labels/annotations, rules, roleRef, subjects)."""
    for name in _COMPARED:
        if name in desired and (actual.get(name) or None) != (desired[name] or None):
            return False
    have, want = actual.get("metadata") or {}, desired["metadata"]
    return all(all((have.get(part) or {}).get(k) == v for k, v in (want.get(part) or {}).items())
               for part in ("labels", "annotations"))


def _converge(client, desired: dict[Key, dict], actual: dict[Key, dict], namespaces: set[str],
              result: Result) -> None:
    for key in sorted(set(actual) - set(desired), key=lambda k: (-KIND_ORDER[k[0]], k)):
        _write(result, key, lambda k=key: ensure_absent(client, RBAC_VERSION, k[0], k[2], k[1] or None),
               result.deleted)
    for key in sorted(desired, key=lambda k: (KIND_ORDER[k[0]], k)):
        manifest, current = desired[key], actual.get(key)
        if key[1] and key[1] not in namespaces:
            result.missing_namespaces.append(key[1])
            continue
        if current is not None and matches(manifest, current):
            result.unchanged += 1
            continue
        if current is not None and "roleRef" in manifest and current.get("roleRef") != manifest["roleRef"]:
            # roleRef cannot change in place: the binding is re-created
            _write(result, key, lambda k=key: ensure_absent(client, RBAC_VERSION, k[0], k[2], k[1] or None), [])
        _write(result, key, lambda m=manifest: apply(client, m), result.applied)
    result.missing_namespaces = sorted(set(result.missing_namespaces))


def _write(result: Result, key: Key, call, done: list) -> None:
    """Run one write; a failure is noted and the rest of the reconcile goes on (the task retries)."""
    try:
        call()
    except KubeError as error:
        log.warning("native RBAC: %s %s/%s on %s failed: %s", key[0], key[1], key[2], result.cluster, error)
        result.errors.append(f"{key[0]} {key[1] + '/' if key[1] else ''}{key[2]}: {error}")
        return
    done.append(key)
