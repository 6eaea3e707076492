"""Names and labels of the RBAC objects the platform owns on a member cluster.

Names are deterministic, so a re-translation finds the object it made before: ``edge:role:<role>`` for the
ClusterRole of a role, ``edge:binding:<binding>`` for the (Cluster)RoleBinding of a binding and for the
node-restricted ClusterRole of a node group or node binding. RBAC names may hold ``:`` (as ``system:`` names
do); a name longer than 253 characters is cut and ends in a digest, so it stays unique. Label values are at
most 63 characters of ``[A-Za-z0-9._-]``: a longer platform name is cut the same way, and the full name is kept
in an annotation.
"""
from __future__ import annotations

import hashlib
import re

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "edge-platform"
ROLE_LABEL = "iam.theriseunion.io/role"
BINDING_LABEL = "iam.theriseunion.io/binding"
ROLE_ANNOTATION = "iam.theriseunion.io/role"
BINDING_ANNOTATION = "iam.theriseunion.io/binding"
SCOPE_ANNOTATION = "iam.theriseunion.io/scope-path"

#: everything the platform made on a member cluster carries this selector
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
#: the ClusterRoles that stand for roles (the ones standing for a binding carry the binding label)
ROLE_OBJECTS_SELECTOR = f"{MANAGED_SELECTOR},!{BINDING_LABEL}"

MAX_NAME = 253
MAX_LABEL = 63
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:10]


def _cut(value: str, limit: int) -> str:
    """``value`` if it fits, else its head plus a digest of the whole (unique, stable)."""
    if len(value) <= limit:
        return value
    return f"{value[:limit - 11]}-{_digest(value)}"


def role_object_name(role: str) -> str:
    """The ClusterRole that carries a role's rules."""
    return _cut(f"edge:role:{role}", MAX_NAME)


def binding_object_name(binding: str) -> str:
    """The (Cluster)RoleBinding of a binding, and the node-restricted ClusterRole of a node(-group) binding."""
    return _cut(f"edge:binding:{binding}", MAX_NAME)


def label_value(name: str) -> str:
    """A platform name as a label value (cut with a digest when longer than 63 or holding other characters)."""
    safe = _LABEL_UNSAFE.sub("-", name).strip("-._")
    if safe != name:
        return f"{safe[:MAX_LABEL - 11]}-{_digest(name)}".lstrip("-")
    return _cut(name, MAX_LABEL).strip("-._")


def role_labels(role: str) -> dict:
    """Labels of a role's ClusterRole."""
    return {MANAGED_BY_LABEL: MANAGED_BY, ROLE_LABEL: label_value(role)}


def binding_labels(binding: str, role: str) -> dict:
    """Labels of the objects made for one binding."""
    return {**role_labels(role), BINDING_LABEL: label_value(binding)}


def binding_selector(binding: str) -> str:
    """The label selector of every object made for one binding."""
    return f"{MANAGED_SELECTOR},{BINDING_LABEL}={label_value(binding)}"
