"""Merge patches and server-side apply with per-manager field ownership (``managedFields``).

Field ownership is tracked at leaf granularity: a scalar, a list (lists are atomic, as they are for CRDs without
``x-kubernetes-list-type`` and for the RBAC lists we write) or an empty map. That is coarser than the real
structured-merge-diff (no per-item ownership in associative lists) but gives the same answers for our kinds:
who owns what, conflicts between managers, ``force`` taking ownership, and fields dropped from an apply
configuration being removed when nobody else owns them.
"""
from __future__ import annotations

import copy
from datetime import UTC, datetime

from edgeplatform.resources.services import merge_patch  # noqa: F401  (RFC 7386, one implementation)

Path = tuple[str, ...]

# metadata fields that belong to the object's identity or the server, never to a manager
_SERVER_METADATA = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                    "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "generateName"}


def now() -> str:
    """RFC 3339 timestamp with second precision, as the API server writes them."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _deep_merge(target: dict, config: dict) -> None:
    """Apply-configuration merge: maps merge recursively, everything else (lists included) is replaced."""
    for key, value in config.items():
        if isinstance(value, dict) and value and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def field_paths(obj: dict, status_only: bool = False, with_status: bool = True) -> set[Path]:
    """The leaf paths of ``obj`` that a manager can own."""
    paths: set[Path] = set()

    def walk(value, prefix: Path):
        if isinstance(value, dict) and value:
            for key, child in value.items():
                walk(child, (*prefix, key))
        else:
            paths.add(prefix)

    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata":
            for mkey, mvalue in (value or {}).items():
                if mkey not in _SERVER_METADATA:
                    walk(mvalue, ("metadata", mkey))
            continue
        if status_only != (key == "status"):
            continue
        if key == "status" and not with_status:
            continue
        walk(value, (key,))
    return paths


def to_fields_v1(paths: set[Path]) -> dict:
    """Render paths as the FieldsV1 document the API server stores in managedFields."""
    root: dict = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return root


def from_fields_v1(doc: dict) -> set[Path]:
    """Leaf paths of a FieldsV1 document (item keys ``k:``/``v:``/``i:`` collapse onto their list)."""
    paths: set[Path] = set()

    def walk(node: dict, prefix: Path):
        children = {k: v for k, v in node.items() if k.startswith("f:")}
        if not children or len(children) != len([k for k in node if k != "."]):
            if prefix:
                paths.add(prefix)
            if not children:
                return
        for key, child in children.items():
            walk(child or {}, (*prefix, key[2:]))

    walk(doc or {}, ())
    return paths


_MISSING = object()


def get_path(obj: dict, path: Path):
    """The value at ``path`` or a sentinel when absent."""
    node = obj
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def delete_path(obj: dict, path: Path) -> None:
    """Remove the value at ``path``; maps left empty by the removal go too."""
    parents = []
    node = obj
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        parents.append((node, part))
        node = node[part]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    for parent, key in reversed(parents):
        if parent[key] == {}:
            del parent[key]
        else:
            break


def _overlaps(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


class ApplyConflict(Exception):
    """Fields of the apply configuration are owned by other managers with other values."""

    def __init__(self, conflicts: list[tuple[str, Path]]):
        super().__init__(conflicts)
        self.conflicts = conflicts


def _find(owned: list, manager: str, operation: str, subresource: str) -> int | None:
    """Index of the ownership entry of (manager, operation, subresource)."""
    return next((i for i, (e, _) in enumerate(owned) if e["manager"] == manager and e["operation"] == operation
                 and e.get("subresource", "") == subresource), None)


def _entries(live: dict) -> list[dict]:
    return copy.deepcopy((live.get("metadata") or {}).get("managedFields") or [])


def _entry(manager: str, operation: str, api_version: str, paths: set[Path], subresource: str) -> dict:
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now(),
             "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}
    if subresource:
        entry["subresource"] = subresource
    return entry


def _set_managed(obj: dict, owned: list[tuple[dict, set[Path]]], previous: list[dict]) -> None:
    """Store the ownership list, keeping an entry's old timestamp when its fields did not change."""
    before = {(e["manager"], e["operation"], e.get("subresource", "")): e for e in previous}
    entries = []
    for entry, paths in owned:
        if not paths:
            continue
        entry = dict(entry, fieldsV1=to_fields_v1(paths))
        old = before.get((entry["manager"], entry["operation"], entry.get("subresource", "")))
        unchanged = old and old.get("fieldsV1") == entry["fieldsV1"]
        entry["time"] = old.get("time", now()) if unchanged else now()
        entries.append(entry)
    obj.setdefault("metadata", {})["managedFields"] = entries


def server_side_apply(live: dict | None, config: dict, manager: str, force: bool, api_version: str,
                      subresource: str = "", with_status: bool = True) -> dict:
    """The object after applying ``config`` as ``manager``; raises ApplyConflict without ``force``."""
    status_only = subresource == "status"
    mine = field_paths(config, status_only=status_only, with_status=with_status)
    if live is None:
        obj = copy.deepcopy(config)
        _set_managed(obj, [(_entry(manager, "Apply", api_version, mine, subresource), mine)], [])
        return obj
    previous = _entries(live)
    owned = [(e, from_fields_v1(e.get("fieldsV1") or {})) for e in previous]
    me = _find(owned, manager, "Apply", subresource)
    my_old = owned[me][1] if me is not None else set()
    conflicts = []
    for index, (entry, paths) in enumerate(owned):
        if index == me:
            continue
        clashing = {p for p in paths for q in mine if _overlaps(p, q) and get_path(live, p) != get_path(config, p)}
        if clashing:
            conflicts += [(entry["manager"], p) for p in sorted(clashing)]
            if force:
                paths -= clashing
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    obj = copy.deepcopy(live)
    others = set().union(*(paths for i, (_, paths) in enumerate(owned) if i != me)) if owned else set()
    for path in my_old - mine:
        if not any(_overlaps(path, other) for other in others):
            delete_path(obj, path)
    body = {k: v for k, v in config.items() if k not in ("apiVersion", "kind")}
    meta = {k: v for k, v in (body.pop("metadata", None) or {}).items() if k not in _SERVER_METADATA}
    if status_only:
        body = {"status": body["status"]} if "status" in body else {}
    elif not with_status:
        body.pop("status", None)
    _deep_merge(obj, body)
    _deep_merge(obj.setdefault("metadata", {}), meta)
    new_entry = _entry(manager, "Apply", api_version, mine, subresource)
    if me is None:
        owned.append((new_entry, mine))
    else:
        owned[me] = (new_entry, mine)
    _set_managed(obj, owned, previous)
    return obj


def record_update(old: dict | None, new: dict, manager: str, api_version: str, subresource: str = "") -> None:
    """Ownership after a non-apply write: ``manager`` takes every field it changed (others lose them)."""
    status_only = subresource == "status"
    new_paths = field_paths(new, status_only=status_only)
    if old is None:
        changed = new_paths
        previous = []
    else:
        old_paths = field_paths(old, status_only=status_only)
        changed = {p for p in new_paths if get_path(old, p) != get_path(new, p)}
        changed |= {p for p in old_paths - new_paths}  # removed fields: nobody owns them any longer
        previous = _entries(old)
    owned = [(e, from_fields_v1(e.get("fieldsV1") or {})) for e in previous]
    for _, paths in owned:
        paths -= {p for p in paths if any(_overlaps(p, c) for c in changed)}
    added = {p for p in changed if p in new_paths}
    index = _find(owned, manager, "Update", subresource)
    if index is None:
        owned.append((_entry(manager, "Update", api_version, added, subresource), added))
    else:
        owned[index] = (owned[index][0], owned[index][1] | added)
    _set_managed(new, owned, previous)
