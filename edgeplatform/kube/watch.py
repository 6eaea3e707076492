"""CRD sync, cluster → platform: list-watch every kind with a CRD on the host cluster and bring changes made
with kubectl or GitOps into the database through the one write path, as the actor ``system:kubewatch``.

Per kind the watcher keeps what an informer keeps: the resourceVersion to resume from (advanced by events and
bookmarks) and the objects it has seen (name → platform uid annotation). A watch that drops resumes from that
resourceVersion; a 410 Gone relists, reconciles every object and treats objects it knew but no longer finds as
deleted while it was away.

What is brought in and what is ignored:

- a custom resource whose content (labels, annotations, spec) hashes to its ``theriseunion.io/spec-hash``
  annotation is exactly what the platform wrote: ignored (the platform's own apply, or an older one);
- one whose content equals the row's: ignored;
- one whose ``theriseunion.io/platform-uid`` names another incarnation of the row: ignored (stale);
- anything else is saved with ``services.save_manifest(..., user=None)``; the save's own after-commit sync then
  re-applies it with a fresh hash, which the watcher sees and ignores. No ping-pong.

Namespaced kinds are watched across all namespaces and known by ``<namespace>/<name>``; a custom resource with a
``deletionTimestamp`` (``kubectl delete`` of a kind whose finalizer holds it) becomes a delete request of its row
(``services.delete_object``: the row's ``deletion_requested``), and one whose row is gone loses the finalizer.

A custom resource the converter refuses is logged and recorded as an audit event with result ``error``; the
watcher carries on. On the first list (start-up), custom resources the platform wrote for rows deleted since
are removed, and rows that have no custom resource are either deleted — when the watcher saw their resource
before it stopped (``edgeplatform.models.WatchedKind``, kept per host cluster): it was deleted while the
watcher was away — or applied (sync was off, or a task was lost: the database is the source of truth).
"""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

from django.db import close_old_connections

from edgeplatform import auditing
from edgeplatform.resources.converters import Converter
from edgeplatform.resources.errors import StatusError

from .client import KubeClient
from .errors import KubeError, KubeUnavailable
from .operations import list_objects, watch_events
from .sync import (
    HASH_ANNOTATION,
    UID_ANNOTATION,
    apply_object,
    content_hash,
    desired_manifest,
    incoming_manifest,
    object_key,
    remove_custom_resource,
)

__all__ = ["ACTOR", "KindState", "Watcher"]

log = logging.getLogger(__name__)
ACTOR = "system:kubewatch"


@dataclass
class KindState:
    """What the watcher knows about one kind: where to resume, which objects exist, how often it failed."""

    converter: Converter
    resource_version: str = ""
    listed: bool = False
    known: dict[str, str] = field(default_factory=dict)  # key → platform uid annotation ("" when none)
    failures: int = 0
    #: (key, content hash) of custom resources the converter refused, so a relist does not log them again
    refused: set[tuple[str, str]] = field(default_factory=set)
    #: ``known`` changed since it was last saved (``WatchedKind``), and when that was
    dirty: bool = False
    saved_at: float = 0.0


@dataclass
class Stats:
    """Counters for logs, tests and the benchmark."""

    saved: int = 0
    deleted: int = 0
    ignored: int = 0
    refused: int = 0
    applied: int = 0
    relists: int = 0
    reconnects: int = 0


def key_of(converter: Converter, item) -> str:
    """How the watcher knows an object (a custom resource or a row): its name, ``<namespace>/<name>`` for a
    namespaced kind."""
    namespace, name = object_key(converter, item)
    return f"{namespace}/{name}" if namespace else name


def _split(converter: Converter, key: str) -> tuple[str | None, str]:
    if converter.namespaced and "/" in key:
        namespace, _, name = key.partition("/")
        return namespace, name
    return None, key


class Watcher:
    """List-watch of the CRD kinds. ``run_once()`` (or ``step(kind)``) does one round without threads, for
    tests; ``run(stop)`` loops with one thread per kind, reconnecting with backoff."""

    #: seconds between saves of what the watcher has seen (at most; and after every relist)
    remember_every = 5.0

    def __init__(self, client: KubeClient, converters: list[Converter] | None = None,
                 timeout_seconds: float = 300, backoff: float = 0.5, backoff_max: float = 30.0):
        from .crds import crd_kinds

        self.client = client
        self._host: str | None = None
        self.kinds = {c.kind: KindState(c) for c in (converters if converters is not None else crd_kinds())}
        self.timeout_seconds = timeout_seconds
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.stats = Stats()

    # --- one round --------------------------------------------------------------------------------------------

    def run_once(self) -> None:
        """List every kind not listed yet, then run one watch request per kind (each up to the timeout)."""
        for kind in self.kinds:
            self.step(kind)

    def step(self, kind: str) -> None:
        """One round for one kind: a (re)list when needed, then one watch request from the last resourceVersion.

        A 410 Gone marks the kind for a relist; a dropped connection just returns (the next step resumes).
        """
        state = self.kinds[kind]
        try:
            if not state.listed:
                self.relist(state)
            for event in watch_events(self.client, state.converter.api_version, kind,
                                      resource_version=state.resource_version,
                                      timeout_seconds=self.timeout_seconds):
                self.handle(state, event)
                self.remember(state)
            self.remember(state, now=True)
            state.failures = 0
        except KubeError as error:
            if error.status == 410:
                log.info("watch of %s: resourceVersion %s is gone, relisting", kind, state.resource_version)
                state.listed = False
                state.failures = 0
            elif isinstance(error, KubeUnavailable):
                state.failures += 1
                self.stats.reconnects += 1
                log.warning("watch of %s dropped (%s); resuming from %s", kind, error, state.resource_version)
            else:
                state.failures += 1
                log.error("watch of %s failed: %s", kind, error)

    def relist(self, state: KindState) -> None:
        """List a kind, reconcile every object, and treat objects known before but missing now as deleted."""
        converter = state.converter
        items = list_objects(self.client, converter.api_version, converter.kind)
        first = not state.listed and not state.known and not state.resource_version
        seen = {}
        for item in items:
            seen[key_of(converter, item)] = (item["metadata"].get("annotations") or {}).get(UID_ANNOTATION, "")
            self._bring_in(state, item, startup=first)
        for key, uid in list(state.known.items()):
            if key not in seen:
                self._deleted(state, key, uid)
        if first:
            self._apply_missing(state, seen, self.remembered(state))
        state.known = seen
        state.resource_version = items.resource_version
        state.listed = True
        state.dirty = True
        self.remember(state, now=True)
        self.stats.relists += 1

    # --- what the watcher saw, across restarts ---------------------------------------------------------------

    def host(self) -> str:
        """The host cluster's identity: the uid of its ``kube-system`` namespace (``default`` where it has none)."""
        if self._host is None:
            from .operations import get

            for name in ("kube-system", "default"):
                found = get(self.client, "v1", "Namespace", name)
                if found is not None:
                    self._host = found["metadata"].get("uid") or ""
                    break
            else:
                self._host = ""
        return self._host

    def remembered(self, state: KindState) -> dict[str, str]:
        """The resources of this kind the watcher saw on this host cluster before it last stopped."""
        from edgeplatform.models import WatchedKind

        converter = state.converter
        row = WatchedKind.objects.filter(group=converter.group, kind=converter.kind).first()
        return dict(row.known) if row is not None and row.host and row.host == self.host() else {}

    def remember(self, state: KindState, now: bool = False) -> None:
        """Save what the watcher has seen of a kind, when it changed (at most every ``remember_every`` seconds
        unless ``now``)."""
        from edgeplatform.models import WatchedKind

        if not state.dirty or (not now and time.monotonic() - state.saved_at < self.remember_every):
            return
        converter = state.converter
        WatchedKind.objects.update_or_create(group=converter.group, kind=converter.kind,
                                             defaults={"host": self.host(), "known": state.known})
        state.dirty, state.saved_at = False, time.monotonic()

    # --- events ----------------------------------------------------------------------------------------------

    def handle(self, state: KindState, event: dict) -> None:
        """One watch event: bring the change in, then remember its resourceVersion.

        In that order, so that an event whose handling failed (the database away, say) is not skipped: the
        next watch resumes from the last event handled and the server sends it again.
        """
        obj = event.get("object") or {}
        metadata = obj.get("metadata") or {}
        kind = event.get("type")
        key = key_of(state.converter, obj)
        if kind == "DELETED":
            uid = state.known.get(key)
            self._deleted(state, key, (metadata.get("annotations") or {}).get(UID_ANNOTATION, uid or ""))
            state.known.pop(key, None)
            state.dirty = True
        elif kind in ("ADDED", "MODIFIED"):
            self._bring_in(state, obj)
            uid = (metadata.get("annotations") or {}).get(UID_ANNOTATION, "")
            if state.known.get(key) != uid:
                state.known[key] = uid
                state.dirty = True
        if metadata.get("resourceVersion"):
            state.resource_version = metadata["resourceVersion"]

    def _bring_in(self, state: KindState, cr: dict, startup: bool = False) -> None:
        from edgeplatform.resources import services
        converter = state.converter
        annotations = (cr.get("metadata") or {}).get("annotations") or {}
        namespace, name = object_key(converter, cr)
        key = key_of(converter, cr)
        digest = content_hash(cr)
        row = converter.lookup(name, {"namespace": namespace})
        if cr["metadata"].get("deletionTimestamp") and converter.crd_finalizer:
            self._deleting(state, cr, row)
            return
        if annotations.get(HASH_ANNOTATION) == digest:
            if startup and row is None and annotations.get(UID_ANNOTATION):
                self._remove_orphan(converter, name, namespace)  # the platform wrote it; its row was deleted since
            else:
                self.stats.ignored += 1
            return
        if row is not None:
            uid = annotations.get(UID_ANNOTATION)
            if (uid and uid != str(row.uid)) or content_hash(desired_manifest(converter, row)) == digest:
                self.stats.ignored += 1
                return
        if (key, digest) in state.refused:
            return
        with auditing.actor(ACTOR):
            try:
                services.save_manifest(converter, incoming_manifest(cr), user=None, instance=row)
            except StatusError as error:
                state.refused.add((key, digest))
                self.stats.refused += 1
                self._record_refusal(converter, "create" if row is None else "update", name, error)
                return
        self.stats.saved += 1

    def _deleting(self, state: KindState, cr: dict, row) -> None:
        """A custom resource a finalizer of the kind holds was deleted (``kubectl delete``): its row is asked to
        go (a delete request, as the system); with no row left, the finalizer comes off and it goes."""
        converter = state.converter
        namespace, name = object_key(converter, cr)
        uid = ((cr.get("metadata") or {}).get("annotations") or {}).get(UID_ANNOTATION, "")
        if row is None:
            if converter.crd_finalizer in (cr["metadata"].get("finalizers") or []):
                self._remove_orphan(converter, name, namespace)
            return
        if (uid and uid != str(row.uid)) or getattr(row, "deletion_requested", None) is not None:
            self.stats.ignored += 1  # a newer incarnation, or a delete already asked for
            return
        self._deleted(state, key_of(converter, cr), uid)

    def _deleted(self, state: KindState, key: str, uid: str) -> None:
        from edgeplatform.resources import services
        converter = state.converter
        namespace, name = _split(converter, key)
        row = converter.lookup(name, {"namespace": namespace})
        if row is None or (uid and uid != str(row.uid)):
            return  # already gone, or the row is a newer incarnation (re-created after this one was deleted)
        with auditing.actor(ACTOR):
            try:
                services.delete_object(converter, row, user=None)
            except StatusError as error:
                self.stats.refused += 1
                self._record_refusal(converter, "delete", name, error)
                return
        self.stats.deleted += 1

    def _apply_missing(self, state: KindState, present: dict, remembered: dict[str, str]) -> None:
        """Start-up: a row without a custom resource is deleted when the watcher saw that resource before it
        stopped (deleted with kubectl or GitOps while it was away), else it gets one (sync was off, or a task
        was lost)."""
        converter = state.converter
        rows = converter.model.objects.order_by("name")
        if not converter.namespaced:  # names are keys: let the database leave out those present
            rows = rows.exclude(name__in=list(present))
        for row in list(rows):
            key = key_of(converter, row)
            if key in present:
                continue
            if key in remembered and remembered[key] in ("", str(row.uid)):  # not a newer incarnation
                self._deleted(state, key, remembered[key])
                continue
            try:
                apply_object(self.client, converter, row, current=None)
            except KubeError as error:  # one object the cluster refuses must not stop the kind being watched
                if error.status in (410, 429) or error.status >= 500:
                    raise
                log.error("kubewatch: %s %s could not be applied: %s", converter.kind, row.name, error)
                with auditing.actor(ACTOR):
                    auditing.record("update", resource=converter.plural, group=converter.group,
                                    kind=converter.kind, name=row.name, result="error", status_code=error.status,
                                    message=f"custom resource refused by the cluster: {error}"[:2000])
                continue
            self.stats.applied += 1

    def _remove_orphan(self, converter: Converter, name: str, namespace: str | None = None) -> None:
        remove_custom_resource(self.client, converter, name, namespace)
        self.stats.deleted += 1

    @staticmethod
    def _record_refusal(converter: Converter, verb: str, name: str, error: StatusError) -> None:
        detail = error.message  # names every offending field
        log.error("kubewatch: %s %s from the cluster was refused: %s", converter.kind, name, detail)
        with auditing.actor(ACTOR):
            auditing.record(verb, resource=converter.plural, group=converter.group, kind=converter.kind, name=name,
                         result="error", status_code=error.status_code,
                         message=f"custom resource refused: {detail}"[:2000])

    # --- forever ---------------------------------------------------------------------------------------------

    def delay(self, kind: str) -> float:
        """Full-jitter exponential backoff before reconnecting after ``failures`` failures in a row."""
        failures = self.kinds[kind].failures
        return 0.0 if failures == 0 else random.uniform(0, min(self.backoff_max, self.backoff * 2 ** failures))

    def run(self, stop: threading.Event) -> None:
        """Watch every kind, one thread each, until ``stop`` is set."""
        threads = [threading.Thread(target=self._loop, args=(kind, stop), name=f"kubewatch-{kind}", daemon=True)
                   for kind in self.kinds]
        for thread in threads:
            thread.start()
        while not stop.wait(1.0):
            pass
        for thread in threads:
            thread.join(timeout=2.0)

    def _loop(self, kind: str, stop: threading.Event) -> None:
        while not stop.is_set():
            close_old_connections()  # a long-lived thread: drop connections the database has closed
            try:
                self.step(kind)
            except Exception:  # never let one kind's bug stop the watcher: log, back off, carry on
                self.kinds[kind].failures += 1
                log.exception("kubewatch: unexpected error watching %s", kind)
            stop.wait(self.delay(kind))
        close_old_connections()
