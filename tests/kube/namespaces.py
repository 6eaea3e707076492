"""Namespace lifecycle: a deleted namespace goes ``Terminating``, is emptied, and goes away when nothing holds it.

This is the namespace controller, run by the store right after each change (see ``Store.reactors``), so a namespace
that nothing holds is gone by the time its DELETE is answered (the answer is the ``Terminating`` object, as the real
server's is) and tests that delete a namespace see its contents gone at once. What holds it: contents whose own
``metadata.finalizers`` keep them, ``spec.finalizers`` other than ``kubernetes`` (removed through the ``finalize``
subresource) and ``metadata.finalizers``. While held, it carries the conditions the namespace controller sets.
New content in a terminating namespace is refused with 403 (the NamespaceLifecycle admission plugin).
"""
from __future__ import annotations

import copy

from .patches import now

__all__ = ["CONDITION_TYPES", "finalize", "is_terminating", "react", "reconcile", "terminate", "terminating_error"]

KUBERNETES = "kubernetes"
CONDITION_TYPES = ("NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                   "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining")
_OK = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions",
                                                    "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted",
                                        "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


def _namespaces(store):
    return store.lookup("", "v1", "namespaces")


def is_terminating(store, name: str) -> bool:
    """Whether namespace ``name`` exists and is being deleted."""
    ns = store.objects.get(("", "namespaces"), {}).get(("", name))
    return bool(ns and (ns.get("status") or {}).get("phase") == "Terminating")


def terminating_error(rtype, name: str, namespace: str):
    """The NamespaceLifecycle admission plugin's 403 for new content in a terminating namespace."""
    from .store import ApiError, resource_name

    message = f"unable to create new content in namespace {namespace} because it is being terminated"
    details = {"name": name, "kind": rtype.plural, "causes": [
        {"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being terminated",
         "field": "metadata.namespace"}]}
    if rtype.group:
        details["group"] = rtype.group
    return ApiError(403, "Forbidden", f'{resource_name(rtype)} "{name}" is forbidden: {message}', details)


def terminate(store, old: dict) -> dict:
    """DELETE of a namespace: ``deletionTimestamp`` and ``phase: Terminating``; the controller then empties it."""
    rtype = _namespaces(store)
    if old["metadata"].get("deletionTimestamp"):
        return store.present(rtype, old)
    obj = copy.deepcopy(old)
    obj["metadata"]["deletionTimestamp"] = now()
    obj["metadata"]["deletionGracePeriodSeconds"] = 0
    obj.setdefault("status", {})["phase"] = "Terminating"
    return store.put_internal(rtype, obj, old)


def finalize(store, name: str, body: dict) -> dict:
    """PUT ``namespaces/<name>/finalize``: replace ``spec.finalizers`` (the only way to change them)."""
    from .store import not_found

    rtype = _namespaces(store)
    old = store.objects[rtype.key].get(("", name))
    if old is None:
        raise not_found(rtype, name)
    obj = copy.deepcopy(old)
    obj.setdefault("spec", {})["finalizers"] = list(((body or {}).get("spec") or {}).get("finalizers") or [])
    if obj == old:
        return store.present(rtype, old)
    return store.put_internal(rtype, obj, old)


def react(store, event) -> None:
    """After any change: reconcile the namespace it concerns when that namespace is being deleted."""
    if event.key == ("", "namespaces"):
        if event.type == "DELETED":
            return
        name = event.obj["metadata"]["name"]
    else:
        name = event.namespace
    if name and is_terminating(store, name):
        reconcile(store, name)


def reconcile(store, name: str) -> None:
    """Delete the namespace's contents (their finalizers honoured), then the namespace when nothing holds it."""
    rtype = _namespaces(store)
    ns = store.objects[rtype.key].get(("", name))
    if ns is None or not ns["metadata"].get("deletionTimestamp"):
        return
    remaining: dict[str, int] = {}
    finalizers: dict[str, int] = {}
    for other in store.stored_types():
        if not other.namespaced:
            continue
        for (namespace, obj_name), obj in list(store.objects.get(other.key, {}).items()):
            if namespace != name:
                continue
            if not obj["metadata"].get("deletionTimestamp"):
                store.delete(other, namespace, obj_name)
            left = store.objects.get(other.key, {}).get((namespace, obj_name))
            if left is not None:
                label = f"{other.plural}.{other.group}"
                remaining[label] = remaining.get(label, 0) + 1
                for finalizer in left["metadata"].get("finalizers") or []:
                    finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
    ns = store.objects[rtype.key].get(("", name))
    if ns is None:
        return
    obj = copy.deepcopy(ns)
    _set_conditions(obj, ns, remaining, finalizers)
    if not remaining:
        spec_finalizers = [f for f in (obj.get("spec") or {}).get("finalizers") or [] if f != KUBERNETES]
        obj.setdefault("spec", {})["finalizers"] = spec_finalizers
        if not spec_finalizers and not obj["metadata"].get("finalizers"):
            store.remove_internal(rtype, obj)
            return
    if obj != ns:
        store.put_internal(rtype, obj, ns)


def _set_conditions(obj: dict, old: dict, remaining: dict[str, int], finalizers: dict[str, int]) -> None:
    failing = {}
    if remaining:
        failing["NamespaceContentRemaining"] = ("SomeResourcesRemain", "Some resources are remaining: " + ", ".join(
            f"{resource} has {count} resource instances" for resource, count in sorted(remaining.items())))
    if finalizers:
        failing["NamespaceFinalizersRemaining"] = (
            "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: " + ", ".join(
                f"{finalizer} in {count} resource instances" for finalizer, count in sorted(finalizers.items())))
    before = {c["type"]: c for c in (old.get("status") or {}).get("conditions") or []}
    conditions = []
    for kind in CONDITION_TYPES:
        status = "True" if kind in failing else "False"
        reason, message = failing.get(kind) or _OK[kind]
        previous = before.get(kind) or {}
        same = previous.get("status") == status
        conditions.append({"type": kind, "status": status,
                           "lastTransitionTime": previous.get("lastTransitionTime") if same else now(),
                           "reason": reason, "message": message})
    obj.setdefault("status", {})["conditions"] = conditions
