"""Idempotent operations on any cluster: apply (server-side), get, list, ensure absent, watch.

Writes are server-side applies with field manager ``edge-platform``: the same call creates or updates, applying
an unchanged manifest changes nothing (the API server keeps the resourceVersion), and fields we stop sending are
removed when nobody else owns them.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator

from .client import KubeClient
from .errors import KubeError

__all__ = ["FIELD_MANAGER", "ObjectList", "apply", "ensure_absent", "ensure_namespace", "get", "list_objects",
           "merge_patch", "remove_finalizer", "replace", "watch_events"]

FIELD_MANAGER = "edge-platform"
APPLY_PATCH = "application/apply-patch+yaml"
# fields the server owns: sending the platform's own values would be a precondition or be rejected
_SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
                  "deletionTimestamp", "deletionGracePeriodSeconds")


class ObjectList(list):
    """Objects from a list call, with the collection's resourceVersion (where a watch should start)."""

    resource_version: str = ""


def apply_body(manifest: dict) -> dict:
    """The manifest as an apply configuration: server-owned metadata dropped."""
    body = copy.deepcopy(manifest)
    meta = body.setdefault("metadata", {})
    for key in _SERVER_FIELDS:
        meta.pop(key, None)
    return body


def apply(client: KubeClient, manifest: dict, field_manager: str = FIELD_MANAGER, force: bool = True,
          subresource: str | None = None) -> dict:
    """Server-side apply ``manifest`` (create or update); the object as stored. ``subresource="status"``
    applies only the status."""
    info = client.resource(manifest["apiVersion"], manifest["kind"])
    meta = manifest.get("metadata") or {}
    if not meta.get("name"):
        raise KubeError(422, "Invalid", f"{manifest['kind']}: metadata.name is required",
                        causes=[{"reason": "FieldValueRequired", "field": "metadata.name",
                                 "message": "Required value"}])
    namespace = meta.get("namespace")
    if info.namespaced and not namespace:
        raise KubeError(422, "Invalid", f"{manifest['kind']} {meta['name']}: metadata.namespace is required",
                        causes=[{"reason": "FieldValueRequired", "field": "metadata.namespace",
                                 "message": "Required value"}])
    path = info.path(meta["name"], namespace if info.namespaced else None, subresource)
    return client.request("PATCH", path, {"fieldManager": field_manager, "force": "true" if force else "false"},
                          apply_body(manifest), APPLY_PATCH)


def replace(client: KubeClient, manifest: dict, resource_version: str, field_manager: str = FIELD_MANAGER) -> dict:
    """Replace an object's labels, annotations and spec with ``manifest`` (PUT at ``resource_version``: a 409
    when it changed since); the object as stored. Fields other managers own are dropped with the rest."""
    info = client.resource(manifest["apiVersion"], manifest["kind"])
    body = apply_body(manifest)
    body.pop("status", None)
    body["metadata"]["resourceVersion"] = resource_version
    meta = body["metadata"]
    return client.request("PUT", info.path(meta["name"], meta.get("namespace") if info.namespaced else None),
                          {"fieldManager": field_manager}, body)


def get(client: KubeClient, api_version: str, kind: str, name: str, namespace: str | None = None,
        missing_ok: bool = True) -> dict | None:
    """One object; ``None`` when it (or its kind) does not exist, unless ``missing_ok=False``."""
    try:
        info = client.resource(api_version, kind)
        return client.request("GET", info.path(name, namespace))
    except KubeError as error:
        if error.not_found and missing_ok:
            return None
        raise


def list_objects(client: KubeClient, api_version: str, kind: str, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 page_size: int = 500) -> ObjectList:
    """Every object of a kind (all namespaces unless ``namespace``), read page by page."""
    info = client.resource(api_version, kind)
    out = ObjectList()
    token = None
    while True:
        page = client.request("GET", info.path(namespace=namespace), {
            "labelSelector": label_selector, "fieldSelector": field_selector, "limit": page_size or None,
            "continue": token})
        out.extend(page.get("items") or [])
        for item in page.get("items") or []:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        out.resource_version = out.resource_version or (page.get("metadata") or {}).get("resourceVersion", "")
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return out


def ensure_absent(client: KubeClient, api_version: str, kind: str, name: str, namespace: str | None = None,
                  propagation: str = "Background") -> bool:
    """Delete the object if it exists: True when this call deleted it, False when it was already gone."""
    try:
        info = client.resource(api_version, kind)
        client.request("DELETE", info.path(name, namespace), body={
            "kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation})
    except KubeError as error:
        if error.not_found:
            return False
        raise
    return True


def ensure_namespace(client: KubeClient, name: str) -> bool:
    """Create the namespace unless it exists (checked first, then applied); True when this call created it."""
    if get(client, "v1", "Namespace", name) is not None:
        return False
    apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return True


def merge_patch(client: KubeClient, api_version: str, kind: str, name: str, patch: dict,
                namespace: str | None = None) -> dict | None:
    """JSON merge patch of one object (a ``None`` value removes a key, which an apply cannot do to a field another
    manager owns); the object as stored, None when it does not exist."""
    info = client.resource(api_version, kind)
    try:
        return client.request("PATCH", info.path(name, namespace if info.namespaced else None),
                              {"fieldManager": FIELD_MANAGER}, patch, "application/merge-patch+json")
    except KubeError as error:
        if error.not_found:
            return None
        raise


def remove_finalizer(client: KubeClient, api_version: str, kind: str, name: str, namespace: str | None,
                     finalizer: str) -> dict | None:
    """Take ``finalizer`` off an object (a merge patch at the resourceVersion read: a 409 when it changed since);
    the object as stored, None when it is gone (an object being deleted goes once its last finalizer does)."""
    current = get(client, api_version, kind, name, namespace)
    if current is None:
        return None
    finalizers = list(current["metadata"].get("finalizers") or [])
    if finalizer not in finalizers:
        return current
    info = client.resource(api_version, kind)
    try:
        return client.request("PATCH", info.path(name, namespace if info.namespaced else None),
                              {"fieldManager": FIELD_MANAGER},
                              {"metadata": {"finalizers": [f for f in finalizers if f != finalizer],
                                            "resourceVersion": current["metadata"]["resourceVersion"]}},
                              "application/merge-patch+json")
    except KubeError as error:
        if error.not_found:
            return None
        raise


def watch_events(client: KubeClient, api_version: str, kind: str, namespace: str | None = None,
                 resource_version: str | None = None, label_selector: str | None = None,
                 timeout_seconds: int | None = None, bookmarks: bool = True) -> Iterator[dict]:
    """Events (``{"type", "object"}``) of one watch request from ``resource_version``.

    The stream ends when the server closes it. An ``ERROR`` event becomes a ``KubeError`` (410 Gone: relist);
    a dropped connection raises ``KubeUnavailable``: resume from the last resourceVersion seen.
    """
    from urllib3.exceptions import HTTPError as Urllib3Error

    from .errors import KubeUnavailable

    info = client.resource(api_version, kind)
    query = {"watch": "1", "resourceVersion": resource_version, "labelSelector": label_selector,
             "allowWatchBookmarks": "true" if bookmarks else None,
             # the API server parses an integer: 60.0 would be a 400
             "timeoutSeconds": str(max(1, round(timeout_seconds))) if timeout_seconds else None}
    # no read timeout beyond the server's own: a quiet watch is not a dead one (bookmarks keep it talking)
    read_timeout = (timeout_seconds + client.timeout[1]) if timeout_seconds else None
    try:
        for event in client.stream(info.path(namespace=namespace), query, (client.timeout[0], read_timeout)):
            if event.get("type") == "ERROR":
                status = event.get("object") or {}
                raise KubeError(int(status.get("code") or 500), status.get("reason") or "InternalError",
                                status.get("message") or "watch error", details=status.get("details") or {})
            yield event
    except (Urllib3Error, OSError) as error:
        raise KubeUnavailable(0, "ServiceUnavailable", f"watch of {kind} on {client.name} was cut: "
                              f"{type(error).__name__}")
