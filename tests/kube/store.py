"""The emulated API server's state: objects, one resourceVersion counter, the event history watches read.

Everything runs under one condition variable: writes are serialized (as etcd serializes them) and watchers
wait on it for new events. Objects are stored per (group, plural), so all versions of a kind share them.
"""
from __future__ import annotations

import base64
import bisect
import copy
import json
import random
import string
import threading
import uuid
from dataclasses import dataclass

from . import disruption, namespaces, patches, schema, strategic, validation, workloads
from .resources import BUILTINS, ResourceType, crd_established, types_from_crd
from .selectors import SelectorError, field_matcher, label_matcher

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class ApiError(Exception):
    """An error the API server answers with a ``Status`` body."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details or {}
        self.headers = headers or {}

    def status(self) -> dict:
        """The Status object."""
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def _details(rtype: ResourceType, name: str) -> dict:
    details = {"name": name, "kind": rtype.plural}
    if rtype.group:
        details["group"] = rtype.group
    return details


def resource_name(rtype: ResourceType) -> str:
    """``plural.group`` (or the plural of a core kind), as messages name a resource."""
    return f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural


_resource = resource_name


def not_found(rtype: ResourceType, name: str) -> ApiError:
    """404 as the API server words it."""
    return ApiError(404, "NotFound", f'{_resource(rtype)} "{name}" not found', _details(rtype, name))


def invalid(rtype: ResourceType, name: str, causes: list[dict]) -> ApiError:
    """422 Invalid with one cause per field."""
    kind = f"{rtype.kind}.{rtype.group}" if rtype.group else rtype.kind
    summary = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
    details = dict(_details(rtype, name), kind=rtype.kind, causes=causes)
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: [{summary}]', details)


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(400, "BadRequest", message)


def conflict(rtype: ResourceType, name: str) -> ApiError:
    """409 on a stale resourceVersion."""
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {_resource(rtype)} "{name}": the object '
                    "has been modified; please apply your changes to the latest version and try again",
                    _details(rtype, name))


def gone(message: str) -> ApiError:
    """410 Gone: a resourceVersion or continue token older than the history kept."""
    return ApiError(410, "Expired", message)


@dataclass
class Event:
    """One change: the object after it (and before it, for selector transitions in watches)."""

    rv: int
    type: str
    key: tuple[str, str]
    namespace: str
    obj: dict
    prev: dict | None


class Store:
    """Objects, types, history; every public method takes the lock."""

    def __init__(self, history_size: int = 10_000, strict_namespaces: bool = True):
        self.cond = threading.Condition()
        self.rv = 0
        self.history_size = history_size
        self.strict_namespaces = strict_namespaces
        self.types: dict[tuple[str, str, str], ResourceType] = {}
        self.objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
        self.history: list[Event] = []
        self.history_rvs: list[int] = []
        self.compacted_rv = 0  # events at or below this resourceVersion are gone
        # controllers that run right after each change, inside the same write (level-based and idempotent: a
        # reaction's own writes are queued and handled in turn, and a write that changes nothing emits nothing)
        self.reactors = [namespaces.react, disruption.react]
        self._pending: list[Event] = []
        self._reacting = False
        for rtype in BUILTINS:
            self._register(rtype)
        for name in DEFAULT_NAMESPACES:
            self.create(self.lookup("", "v1", "namespaces"), None, {"metadata": {"name": name}})
        self.create(self.lookup("", "v1", "services"), "default", {  # what kube-apiserver maintains for itself
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]}}, "kube-apiserver")

    # ----- types -----

    def _register(self, rtype: ResourceType) -> None:
        self.types[(rtype.group, rtype.version, rtype.plural)] = rtype
        self.objects.setdefault(rtype.key, {})

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The resource type served at group/version/plural."""
        return self.types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        """The resource type for an apiVersion and kind."""
        group, _, version = api_version.rpartition("/")
        return next((t for t in self.types.values() if t.group == group and t.version == version and t.kind == kind),
                    None)

    # ----- reads -----

    def _bucket(self, rtype: ResourceType) -> dict:
        return self.objects.setdefault(rtype.key, {})

    @staticmethod
    def _present(rtype: ResourceType, obj: dict) -> dict:
        out = copy.deepcopy(obj)
        out["apiVersion"], out["kind"] = rtype.api_version, rtype.kind
        return out

    present = _present

    def stored_types(self) -> list[ResourceType]:
        """One served type per stored (group, plural): the first version registered."""
        with self.cond:
            seen: dict[tuple[str, str], ResourceType] = {}
            for rtype in self.types.values():
                seen.setdefault(rtype.key, rtype)
            return list(seen.values())

    def snapshot(self, key: tuple[str, str]) -> list[dict]:
        """Copies of every stored object of (group, plural), for controllers that work outside the lock."""
        with self.cond:
            return [copy.deepcopy(o) for _, o in sorted(self.objects.get(key, {}).items())]

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> dict:
        """One object or 404."""
        with self.cond:
            obj = self._bucket(rtype).get((namespace or "", name))
            if obj is None:
                raise not_found(rtype, name)
            return self._present(rtype, obj)

    def _matching(self, rtype, namespace, label_selector, field_selector) -> list[dict]:
        try:
            by_label, by_field = label_matcher(label_selector), field_matcher(field_selector)
        except SelectorError as exc:
            raise bad_request(str(exc))
        items = []
        for (ns, _), obj in sorted(self._bucket(rtype).items()):
            if namespace and ns != namespace:
                continue
            if by_label((obj.get("metadata") or {}).get("labels") or {}) and by_field(obj):
                items.append(obj)
        return items

    def list(self, rtype: ResourceType, namespace: str | None, label_selector: str | None = None,
             field_selector: str | None = None, limit: int = 0, continue_token: str | None = None) -> dict:
        """A ``<Kind>List`` with ``limit``/``continue`` paging (pages are cut by (namespace, name) order)."""
        with self.cond:
            items = self._matching(rtype, namespace, label_selector, field_selector)
            list_rv = self.rv
            if continue_token:
                try:
                    token = json.loads(base64.urlsafe_b64decode(continue_token.encode()))
                    start, list_rv = tuple(token["start"]), int(token["rv"])
                except (ValueError, KeyError, TypeError):
                    raise bad_request("continue key is not valid")
                if list_rv < self.compacted_rv:
                    raise gone("The provided continue parameter is too old to display a consistent list result. "
                               "You can start a new list without the continue parameter.")
                items = [o for o in items if self._key(o) > start]
            metadata = {"resourceVersion": str(list_rv)}
            if limit and len(items) > limit:
                remaining = len(items) - limit
                items = items[:limit]
                token = {"rv": list_rv, "start": list(self._key(items[-1]))}
                metadata["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
                metadata["remainingItemCount"] = remaining
            return {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version, "metadata": metadata,
                    "items": [self._present(rtype, o) for o in items]}

    @staticmethod
    def _key(obj: dict) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return meta.get("namespace", ""), meta.get("name", "")

    # ----- writes -----

    def _emit(self, rtype: ResourceType, type_: str, obj: dict, prev: dict | None) -> None:
        ns = (obj.get("metadata") or {}).get("namespace", "")
        event = Event(self.rv, type_, rtype.key, ns, copy.deepcopy(obj), prev)
        self.history.append(event)
        self.history_rvs.append(self.rv)
        if len(self.history) > self.history_size:
            drop = len(self.history) - self.history_size
            self.compacted_rv = self.history_rvs[drop - 1]
            del self.history[:drop], self.history_rvs[:drop]
        self._pending.append(event)
        if not self._reacting:
            self._reacting = True
            try:
                while self._pending:
                    pending = self._pending.pop(0)
                    for reactor in self.reactors:
                        try:
                            reactor(self, pending)
                        except ApiError:
                            pass  # a controller's write was refused; its next pass tries again
            finally:
                self._reacting = False
                self._pending.clear()
        self.cond.notify_all()

    def compact(self) -> None:
        """Forget all history: watches and continue tokens from before now answer 410 Gone."""
        with self.cond:
            self.compacted_rv = self.rv
            self.history.clear()
            self.history_rvs.clear()
            self.cond.notify_all()

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _check_body(self, rtype: ResourceType, namespace: str | None, body: dict) -> dict:
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        obj = copy.deepcopy(body)
        if obj.get("kind") and obj["kind"] != rtype.kind:
            raise bad_request(f"the API version in the data ({obj.get('apiVersion')}) does not match the expected "
                              f"API version ({rtype.api_version}) for kind {rtype.kind}")
        api_version = obj.get("apiVersion")
        if api_version and api_version.rpartition("/")[0] != rtype.group:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                              f"version ({rtype.api_version})")
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta = obj.setdefault("metadata", {})
        if rtype.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                                  "request")
            meta["namespace"] = namespace or meta.get("namespace") or ""
        else:
            meta.pop("namespace", None)
        return obj

    def _validate(self, rtype: ResourceType, obj: dict, old: dict | None) -> dict:
        """Type rules; returns the stored form (pruned for custom resources)."""
        name = obj["metadata"].get("name", "")
        causes = validation.name_causes(rtype.kind, rtype.group, name)
        if rtype.kind == "Secret" and not rtype.group:
            causes += validation.normalize_secret(obj)
        elif rtype.group == validation.RBAC_GROUP:
            causes += validation.rbac_causes(rtype.kind, obj, old)
        elif rtype.kind == "CustomResourceDefinition":
            causes += validation.crd_causes(obj)
        elif rtype.custom:
            obj, schema_causes = schema.check(obj, rtype.schema)
            causes += schema_causes
        else:
            causes += workloads.prepare(self, rtype, obj, old)
        if causes:
            raise invalid(rtype, name, causes)
        return obj

    def _content_changed(self, rtype: ResourceType, old: dict, new: dict) -> bool:
        """Whether a write changes what ``generation`` counts (all but metadata, and status when separate)."""
        skip = {"metadata", "apiVersion", "kind"} | ({"status"} if rtype.status_subresource else set())
        return {k: v for k, v in old.items() if k not in skip} != {k: v for k, v in new.items() if k not in skip}

    def create(self, rtype: ResourceType, namespace: str | None, body: dict, manager: str = "",
               managed_fields: list | None = None) -> dict:
        """POST: 201 with metadata filled, 409 AlreadyExists, 404 when the namespace is missing."""
        with self.cond:
            obj = self._check_body(rtype, namespace, body)
            meta = obj["metadata"]
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + "0123456789",
                                                                             k=5))
            name, ns = meta.get("name", ""), meta.get("namespace", "")
            if rtype.namespaced and not ns:
                raise bad_request("the server could not find the requested resource: namespace is required")
            if rtype.namespaced and self.strict_namespaces:
                if ("", ns) not in self._bucket(self.lookup("", "v1", "namespaces")):
                    raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
            if rtype.namespaced and namespaces.is_terminating(self, ns):
                raise namespaces.terminating_error(rtype, name, ns)
            if (ns, name) in self._bucket(rtype):
                raise ApiError(409, "AlreadyExists", f'{_resource(rtype)} "{name}" already exists',
                               _details(rtype, name))
            if rtype.status_subresource and rtype.custom:
                obj.pop("status", None)
            obj = self._validate(rtype, obj, None)
            self._fill_new(rtype, obj)
            if managed_fields is None:
                patches.record_update(None, obj, manager or "unknown", rtype.api_version)
            else:
                obj["metadata"]["managedFields"] = managed_fields
            return self._store(rtype, obj, None, "ADDED")

    def _fill_new(self, rtype: ResourceType, obj: dict) -> None:
        meta = obj["metadata"]
        for key in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "generation"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = patches.now()
        if rtype.tracks_generation:
            meta["generation"] = 1
        if rtype.kind == "Namespace" and not rtype.group:
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        if rtype.kind == "CustomResourceDefinition":
            obj["status"] = crd_established(obj)

    def _store(self, rtype: ResourceType, obj: dict, prev: dict | None, event: str) -> dict:
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._bucket(rtype)[self._key(obj)] = obj
        if rtype.kind == "CustomResourceDefinition":
            self._serve_crd(obj, prev)
        self._emit(rtype, event, obj, prev)
        return self._present(rtype, obj)

    def _serve_crd(self, crd: dict, prev: dict | None) -> None:
        if prev is not None:
            for old in types_from_crd(prev):
                self.types.pop((old.group, old.version, old.plural), None)
        for rtype in types_from_crd(crd):
            self._register(rtype)

    def update(self, rtype: ResourceType, namespace: str | None, name: str, body: dict, manager: str = "",
               subresource: str = "") -> dict:
        """PUT (whole object or ``/status``): 409 on a stale resourceVersion, no write when nothing changes."""
        with self.cond:
            old = self._bucket(rtype).get((namespace or "", name))
            if old is None:
                raise not_found(rtype, name)
            obj = self._check_body(rtype, namespace, body)
            given_rv = obj["metadata"].get("resourceVersion")
            if not given_rv and rtype.custom:
                raise invalid(rtype, name, [validation.cause(
                    "metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update")])
            if given_rv and given_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rtype, name)
            if obj["metadata"].get("name", name) != name:
                raise bad_request("the name of the object does not match the name on the URL")
            return self._write(rtype, old, obj, manager or "unknown", subresource, operation="Update")

    def _merge_for_subresource(self, rtype: ResourceType, old: dict, obj: dict, subresource: str) -> dict:
        """``/status`` writes change only status; main writes keep status when it is a subresource."""
        if subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in obj:
                merged["status"] = obj["status"]
            else:
                merged.pop("status", None)
            return merged
        if rtype.status_subresource:
            obj = dict(obj)
            if "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            else:
                obj.pop("status", None)
        return obj

    def _write(self, rtype: ResourceType, old: dict, obj: dict, manager: str, subresource: str,
               operation: str) -> dict:
        obj = self._merge_for_subresource(rtype, old, obj, subresource)
        meta, old_meta = obj.setdefault("metadata", {}), old["metadata"]
        for key in ("uid", "creationTimestamp", "name", "namespace", "generation", "deletionTimestamp"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if rtype.kind == "Namespace" and not rtype.group:
            # phase and spec.finalizers belong to the server (spec.finalizers change through ``finalize``)
            status = copy.deepcopy(old.get("status", {"phase": "Active"}))
            if subresource == "status":
                status["conditions"] = (obj.get("status") or {}).get("conditions", status.get("conditions"))
            obj["status"] = {k: v for k, v in status.items() if v is not None}
            obj.setdefault("spec", {})["finalizers"] = copy.deepcopy((old.get("spec") or {}).get("finalizers"))
            if obj["spec"]["finalizers"] is None:
                del obj["spec"]["finalizers"]
        obj = self._validate(rtype, obj, old)
        meta = obj["metadata"]  # validation may hand back a pruned copy
        if rtype.kind == "CustomResourceDefinition":
            obj["status"] = crd_established(obj)
        if operation == "Update":
            obj.setdefault("metadata", {})["managedFields"] = copy.deepcopy(old_meta.get("managedFields") or [])
            patches.record_update(old, obj, manager, rtype.api_version, subresource)
        if "generation" in meta and self._content_changed(rtype, old, obj):
            meta["generation"] = old_meta["generation"] + 1
        if obj == old:
            return self._present(rtype, old)  # a no-op write stores nothing and keeps the resourceVersion
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and rtype.key != ("", "namespaces"):
            return self._remove(rtype, obj)
        return self._store(rtype, obj, old, "MODIFIED")

    def put_internal(self, rtype: ResourceType, obj: dict, old: dict) -> dict:
        """Store ``obj`` over ``old`` as a controller does, without validation (the caller checked no-op writes)."""
        with self.cond:
            return self._store(rtype, obj, old, "MODIFIED")

    def remove_internal(self, rtype: ResourceType, obj: dict) -> dict:
        """Remove a stored object at once (a controller finishing a deletion)."""
        with self.cond:
            return self._remove(rtype, copy.deepcopy(obj))

    def set_status(self, rtype: ResourceType, namespace: str | None, name: str, status: dict,
                   manager: str) -> dict | None:
        """A controller's status write through ``/status``; None when the object is gone, no event when unchanged."""
        with self.cond:
            old = self._bucket(rtype).get((namespace or "", name))
            if old is None:
                return None
            if old.get("status") == status:
                return self._present(rtype, old)
            obj = copy.deepcopy(old)
            obj["status"] = copy.deepcopy(status)
            return self._write(rtype, old, obj, manager, "status", operation="Update")

    def bind(self, namespace: str, name: str, node: str, manager: str = "default-scheduler") -> dict:
        """``pods/<name>/binding``: set ``spec.nodeName`` once (409 when the pod is already assigned)."""
        with self.cond:
            rtype = self.lookup("", "v1", "pods")
            old = self._bucket(rtype).get((namespace, name))
            if old is None:
                raise not_found(rtype, name)
            if (old.get("spec") or {}).get("nodeName"):
                raise ApiError(409, "Conflict", f"Operation cannot be fulfilled on pods/binding \"{name}\": pod "
                               f"{name} is already assigned to node \"{old['spec']['nodeName']}\"",
                               {"name": name, "kind": "pods/binding"})
            obj = copy.deepcopy(old)
            obj["spec"]["nodeName"] = node
            patches.record_update(old, obj, manager, rtype.api_version)
            return self._store(rtype, obj, old, "MODIFIED")

    def patch(self, rtype: ResourceType, namespace: str | None, name: str, patch_type: str, body,
              manager: str = "", force: bool = False, subresource: str = "") -> dict:
        """PATCH: merge, strategic merge (built-in kinds) or server-side apply, which creates when missing."""
        with self.cond:
            old = self._bucket(rtype).get((namespace or "", name))
            if patch_type == "apply":
                return self._apply(rtype, namespace, name, old, body, manager, force, subresource)
            if old is None:
                raise not_found(rtype, name)
            if not isinstance(body, dict):
                raise bad_request("the body of the request was in an unknown format")
            given_rv = (body.get("metadata") or {}).get("resourceVersion")
            if given_rv and given_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rtype, name)
            if patch_type == "strategic":
                try:
                    new = strategic.strategic_merge_patch(old, body, strategic.schema_for(rtype.group, rtype.kind))
                except strategic.PatchError as exc:
                    raise ApiError(500, "InternalError", str(exc))
            else:
                new = patches.merge_patch(old, body)
            new = self._check_body(rtype, namespace, new)
            return self._write(rtype, old, new, manager or "unknown", subresource, operation="Update")

    def _apply(self, rtype, namespace, name, old, body, manager, force, subresource) -> dict:
        if not manager:
            raise bad_request("PATCH, application/apply-patch+yaml requests require fieldManager")
        config = self._check_body(rtype, namespace, body)
        if config["metadata"].get("name") != name:
            raise bad_request("the name of the object does not match the name on the URL")
        with_status = not (rtype.status_subresource and subresource != "status")
        try:
            new = patches.server_side_apply(
                copy.deepcopy(old) if old else None, config, manager, force, rtype.api_version,
                subresource, with_status)
        except patches.ApplyConflict as exc:
            raise ApiError(409, "Conflict", f"Apply failed with {len(exc.conflicts)} conflict(s): " + "; ".join(
                f'conflict with "{who}": .{".".join(path)}' for who, path in exc.conflicts), dict(
                _details(rtype, name), causes=[{"reason": "FieldManagerConflict", "field": "." + ".".join(p),
                                                "message": f'conflict with "{who}"'} for who, p in exc.conflicts]))
        if old is None:
            if subresource:
                raise not_found(rtype, name)
            return self.create(rtype, namespace, new, manager, managed_fields=new["metadata"].pop("managedFields"))
        return self._write(rtype, old, new, manager, subresource, operation="Apply")

    def delete(self, rtype: ResourceType, namespace: str | None, name: str) -> dict:
        """DELETE: immediate unless finalizers hold it (then ``deletionTimestamp`` is set)."""
        with self.cond:
            old = self._bucket(rtype).get((namespace or "", name))
            if old is None:
                raise not_found(rtype, name)
            if rtype.key == ("", "namespaces"):
                return namespaces.terminate(self, old)
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return self._present(rtype, old)
                obj = copy.deepcopy(old)
                obj["metadata"]["deletionTimestamp"] = patches.now()
                return self._store(rtype, obj, old, "MODIFIED")
            return self._remove(rtype, copy.deepcopy(old))

    def _remove(self, rtype: ResourceType, obj: dict) -> dict:
        key = self._key(obj)
        prev = self._bucket(rtype).pop(key)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(rtype, "DELETED", obj, prev)
        if rtype.kind == "CustomResourceDefinition":
            for served in types_from_crd(obj):
                self.types.pop((served.group, served.version, served.plural), None)
            for served in types_from_crd(obj)[:1]:
                for child in list(self._bucket(served).values()):
                    self._remove(served, copy.deepcopy(child))
                self.objects.pop(served.key, None)
        return self._present(rtype, obj)

    def delete_collection(self, rtype: ResourceType, namespace: str | None, label_selector: str | None,
                          field_selector: str | None) -> dict:
        """DELETE on a collection: every matching object, returned as a list."""
        with self.cond:
            items = [self.delete(rtype, (o["metadata"].get("namespace") or None), o["metadata"]["name"])
                     for o in self._matching(rtype, namespace, label_selector, field_selector)]
            return {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version,
                    "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    # ----- watches -----

    def watch_start(self, rtype: ResourceType, namespace: str | None, resource_version: str | None):
        """(initial events, cursor) for a new watch; 410 when ``resource_version`` is older than the history."""
        with self.cond:
            if resource_version in (None, "", "0"):
                initial = [Event(self.rv, "ADDED", rtype.key, self._key(o)[0], copy.deepcopy(o), None)
                           for o in self._matching(rtype, namespace, None, None)]
                return initial, self.rv
            try:
                start = int(resource_version)
            except ValueError:
                raise bad_request(f'invalid resource version "{resource_version}"')
            if start < self.compacted_rv:
                raise gone(f"too old resource version: {start} ({self.compacted_rv + 1})")
            return [], start

    def events_after(self, cursor: int, timeout: float) -> tuple[list[Event], int]:
        """Events newer than ``cursor`` (waiting up to ``timeout`` for one); raises 410 if they were dropped."""
        with self.cond:
            if self.rv <= cursor:
                self.cond.wait(timeout)
            if cursor < self.compacted_rv:
                raise gone(f"too old resource version: {cursor} ({self.compacted_rv + 1})")
            index = bisect.bisect_right(self.history_rvs, cursor)
            events = self.history[index:]
            return events, (events[-1].rv if events else cursor)

    def wake(self) -> None:
        """Wake every waiting watch (used when watches are told to stop)."""
        with self.cond:
            self.cond.notify_all()
