"""CRD sync, platform → cluster: every committed save or delete of a kind with a CRD is mirrored as its custom
resource on the host cluster.

The write path announces changes (``object_saved``/``object_deleted``); after the transaction commits, a Celery
task (``edgeplatform.kube.tasks.sync_object``) re-reads the row and either applies its manifest (server-side
apply, field manager ``edge-platform``, then the status through the status subresource) or, when the row is
gone, deletes the custom resource. Level-based and idempotent: running it twice, or late, is harmless.

Every applied custom resource carries two annotations: ``theriseunion.io/spec-hash`` (a hash of the desired
state the platform wrote: labels, annotations and spec) and ``theriseunion.io/platform-uid`` (the object's uid in
the platform). The watcher (``edgeplatform.kube.watch``) uses them to tell the platform's own writes from
changes made with kubectl or GitOps, so changes never ping-pong.
"""
from __future__ import annotations

import hashlib
import json
import logging

from django.conf import settings
from django.db import transaction

from edgeplatform.resources.converters import Converter

from .client import KubeClient
from .connections import host_client, host_configured
from .crds import crd_kinds
from .operations import apply, ensure_absent, ensure_namespace, get, list_objects, remove_finalizer, replace

__all__ = ["HASH_ANNOTATION", "IGNORED_ANNOTATIONS", "UID_ANNOTATION", "connect", "content_hash", "converter_of",
           "desired_manifest", "enabled", "incoming_manifest", "kind_key", "object_key", "remove_custom_resource",
           "resync", "resync_kind", "sync_object"]

log = logging.getLogger(__name__)

HASH_ANNOTATION = "theriseunion.io/spec-hash"
UID_ANNOTATION = "theriseunion.io/platform-uid"
#: Annotations that say how an object was written, not what is desired: never stored, never hashed.
IGNORED_ANNOTATIONS = frozenset({HASH_ANNOTATION, UID_ANNOTATION, "kubectl.kubernetes.io/last-applied-configuration"})


def enabled() -> bool:
    """Sync runs when a host cluster is configured (and ``EDGE_CRD_SYNC`` is not switched off)."""
    return getattr(settings, "EDGE_CRD_SYNC", True) and host_configured()


def converter_of(kind: str, group: str | None = None) -> Converter | None:
    """The converter of a kind that has a CRD, or None."""
    for converter in crd_kinds():
        if converter.kind == kind and (group is None or converter.group == group):
            return converter
    return None


def _annotations(metadata: dict) -> dict:
    return {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in IGNORED_ANNOTATIONS}


def content_hash(manifest: dict) -> str:
    """A hash of what a manifest asks for (labels, annotations, spec); status and server metadata don't count."""
    metadata = manifest.get("metadata") or {}
    doc = {"labels": metadata.get("labels") or {}, "annotations": _annotations(metadata),
           "spec": manifest.get("spec") or {}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def object_key(converter: Converter, item) -> tuple[str | None, str]:
    """(namespace, name) of a row or a custom resource; the namespace is None for kinds that have none."""
    if isinstance(item, dict):
        metadata = item.get("metadata") or {}
        return (metadata.get("namespace") if converter.namespaced else None), metadata.get("name")
    return converter.namespace_of(item), item.name


def desired_manifest(converter: Converter, obj) -> dict:
    """The custom resource the platform applies for a row: its manifest, annotated with hash and uid (and the
    kind's finalizer)."""
    manifest = converter.to_manifest(obj)
    metadata = manifest["metadata"]
    metadata["annotations"] = {**_annotations(metadata), HASH_ANNOTATION: content_hash(manifest),
                               UID_ANNOTATION: str(obj.uid)}
    if converter.crd_finalizer:
        metadata["finalizers"] = [converter.crd_finalizer]
    return manifest


def incoming_manifest(cr: dict) -> dict:
    """A custom resource as a manifest for ``services.save_manifest``: the cluster's metadata (uid,
    resourceVersion, …), our bookkeeping annotations and the status (platform → cluster only) left out."""
    metadata = cr.get("metadata") or {}
    out_meta = {"name": metadata.get("name")}
    if metadata.get("namespace"):
        out_meta["namespace"] = metadata["namespace"]
    if metadata.get("labels"):
        out_meta["labels"] = dict(metadata["labels"])
    annotations = _annotations(metadata)
    if annotations:
        out_meta["annotations"] = annotations
    return {"apiVersion": cr.get("apiVersion"), "kind": cr.get("kind"), "metadata": out_meta,
            "spec": cr.get("spec") or {}}


_UNREAD = object()


def _leaves(manifest: dict) -> set[tuple]:
    """The paths of a manifest's desired content (labels, annotations, spec), leaf by leaf (lists are atomic)."""
    metadata = manifest.get("metadata") or {}
    out: set[tuple] = set()

    def walk(value, path):
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(item, (*path, key))
        else:
            out.add(path)

    walk({"labels": metadata.get("labels") or {}, "annotations": _annotations(metadata),
          "spec": manifest.get("spec") or {}}, ())
    return out


def _written_as(current: dict, manifest: dict) -> bool:
    """True when the custom resource is exactly the desired manifest, our annotations included."""
    ours = manifest["metadata"]["annotations"]
    theirs = current["metadata"].get("annotations") or {}
    finalizers = set(current["metadata"].get("finalizers") or [])
    return all(theirs.get(key) == ours[key] for key in (HASH_ANNOTATION, UID_ANNOTATION)) \
        and content_hash(current) == ours[HASH_ANNOTATION] \
        and set(manifest["metadata"].get("finalizers") or []) <= finalizers


def apply_object(client: KubeClient, converter: Converter, obj, current=_UNREAD) -> dict:
    """Make one row's custom resource match it, then its status; the stored CR.

    Level-based: the custom resource is read first (``current``, when the caller has just read it). Unchanged:
    no write. Otherwise a server-side apply — unless the resource holds fields the platform does not want (one
    kubectl set and the platform has since removed, or a credential written in plain text that the platform
    keeps only encrypted): an apply would leave those to the manager that owns them, and the watcher would
    bring them back, so the resource is replaced (PUT at the version read) with exactly the desired state.
    """
    manifest = desired_manifest(converter, obj)
    status = manifest.pop("status", None)
    namespace = manifest["metadata"].get("namespace")
    if current is _UNREAD:
        current = get(client, manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"], namespace)
    if current is None:
        if namespace:
            ensure_namespace(client, namespace)
        stored = apply(client, manifest)
    elif _written_as(current, manifest):
        stored = current
    elif _leaves(current) - _leaves(manifest):
        stored = replace(client, manifest, current["metadata"]["resourceVersion"])
    else:
        stored = apply(client, manifest)
    if status and converter.status_schema is not None \
            and stored.get("status") != json.loads(json.dumps(status)):  # empty or unchanged: nothing to say
        stored = apply(client, {"apiVersion": manifest["apiVersion"], "kind": manifest["kind"],
                                "metadata": {"name": manifest["metadata"]["name"],
                                             **({"namespace": namespace} if namespace else {})},
                                "status": status}, subresource="status")
    if getattr(obj, "deletion_requested", None) is not None and not stored["metadata"].get("deletionTimestamp"):
        # the row is being deleted: so is its resource, which the finalizer holds until the row goes
        ensure_absent(client, manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"], namespace)
        stored = get(client, manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"],
                     namespace) or stored
    return stored


def remove_custom_resource(client: KubeClient, converter: Converter, name: str, namespace: str | None = None) -> bool:
    """The row is gone: take the kind's finalizer off its custom resource, then delete it; True when there was
    one to remove."""
    if converter.crd_finalizer:
        current = remove_finalizer(client, converter.api_version, converter.kind, name, namespace,
                                   converter.crd_finalizer)
        if current is None:
            return False
        # already being deleted: it went with its last finalizer (or another's holds it); else delete it now
        if current["metadata"].get("deletionTimestamp"):
            return True
    return ensure_absent(client, converter.api_version, converter.kind, name, namespace)


def sync_object(kind: str, name: str, group: str | None = None, client: KubeClient | None = None,
                namespace: str | None = None) -> str:
    """Make the custom resource of ``kind``/``name`` (in ``namespace``, for a namespaced kind) match the database:
    ``applied``, ``deleted``, ``absent`` (nothing to delete) or ``off`` (sync disabled)."""
    if client is None and not enabled():
        return "off"
    converter = converter_of(kind, group)
    if converter is None:
        raise ValueError(f"kind {kind!r} has no custom resource")
    client = client or host_client()
    obj = converter.lookup(name, {"namespace": namespace})
    if obj is not None:
        apply_object(client, converter, obj)
        return "applied"
    return "deleted" if remove_custom_resource(client, converter, name, namespace) else "absent"


def resync(client: KubeClient | None = None) -> dict[str, int]:
    """Bring every custom resource up to its row: one list per kind, a write only where something differs.

    Catches what no save announces — derived status such as an IAMRole's ``memberCount`` or a User's
    ``lastLoginTime``, and syncs lost with a broker message. A custom resource changed on the cluster and not yet
    brought in (its content no longer matches the hash the platform wrote) is left to the watcher: the resync
    never overwrites a kubectl or GitOps change. Counts: ``applied`` (written), ``unchanged``, ``pending``
    (left to the watcher).

    Each kind is one reconcile of the ``crd-resync`` controller (``edgeplatform.kube.tasks``): its lease, its
    retries with backoff when the host cluster does not answer, its metrics; a kind whose reconcile failed
    counts nothing here and is retried by the controller.
    """
    from edgeplatform.controllers.engine import reconcile

    from .tasks import CRD_RESYNC

    stats = {"applied": 0, "unchanged": 0, "pending": 0}
    if client is None and not enabled():
        return stats
    for converter in crd_kinds():
        outcome = reconcile(CRD_RESYNC, kind_key(converter), options={"client": client} if client else None)
        for name, count in (outcome.value or {}).items():
            stats[name] += count
    return stats


def kind_key(converter: Converter) -> str:
    """How the resync names a kind: ``<group>/<Kind>``."""
    return f"{converter.group}/{converter.kind}"


def resync_kind(client: KubeClient, converter: Converter) -> dict[str, int]:
    """The resync of one kind (see :func:`resync`): its counts."""
    stats = {"applied": 0, "unchanged": 0, "pending": 0}
    present = {object_key(converter, cr): cr for cr in list_objects(client, converter.api_version, converter.kind)}
    for row in converter.model.objects.order_by("name").iterator():
        current = present.get(object_key(converter, row))
        annotations = (current or {}).get("metadata", {}).get("annotations") or {}
        if current is not None and annotations.get(HASH_ANNOTATION) != content_hash(current):
            stats["pending"] += 1
            continue
        stored = apply_object(client, converter, row, current=current)
        stats["unchanged" if stored is current else "applied"] += 1
    return stats


# --- after commit -----------------------------------------------------------------------------------------------

def _enqueue(converter: Converter, name: str, namespace: str | None) -> None:
    from .tasks import sync_object as task

    try:
        task.delay(converter.kind, name, converter.group, namespace)
    except Exception:  # the broker is down: the write is committed; kubewatch's resync catches up
        log.exception("could not queue the CRD sync of %s %s", converter.kind, name)


def _on_change(sender, *, converter, obj, **kwargs) -> None:
    if not converter.has_crd or not enabled():
        return
    namespace, name = object_key(converter, obj)
    transaction.on_commit(lambda: _enqueue(converter, name, namespace))


def connect() -> None:
    """Queue a sync after every committed save or delete (idempotent)."""
    from edgeplatform.resources import services

    services.object_saved.connect(_on_change, dispatch_uid="crd-sync-saved")
    services.object_deleted.connect(_on_change, dispatch_uid="crd-sync-deleted")
