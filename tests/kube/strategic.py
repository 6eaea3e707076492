"""Strategic merge patch (``application/strategic-merge-patch+json``) for the built-in kinds.

Maps merge and ``null`` deletes, as in a merge patch; a list merges item by item when ``k8s.io/api`` declares a
``patchMergeKey`` for it (containers by ``name``, ports by ``containerPort``, volumeMounts by ``mountPath``, ...),
merges as a set when it is a list of scalars with ``patchStrategy: merge`` (``metadata.finalizers``), and is
replaced otherwise (tolerations, args, taints). Directives: ``$patch: delete`` / ``$patch: replace`` on a map or a
list item, ``$retainKeys``, ``$deleteFromPrimitiveList/<field>`` and ``$setElementOrder/<field>``. Custom resources
have no such declarations: the API server answers 415 to a strategic merge patch of one (``emulator.py``).
"""
from __future__ import annotations

import copy

__all__ = ["PatchError", "schema_for", "strategic_merge_patch"]


class PatchError(ValueError):
    """A patch the server cannot apply (a list item without its merge key, an unknown directive)."""


# A field is (schema of the value or of each item, merge key or "" for a set of scalars), or a nested schema dict.
def _keyed(key: str, item: dict | None = None) -> tuple:
    return ("list", key, item or {})


_SET = ("list", "", {})
_META = {"finalizers": _SET, "ownerReferences": _keyed("uid")}
_CONDITIONS = {"conditions": _keyed("type")}
_CONTAINER = {"ports": _keyed("containerPort"), "env": _keyed("name"), "volumeMounts": _keyed("mountPath"),
              "volumeDevices": _keyed("devicePath")}
_POD_SPEC = {"containers": _keyed("name", _CONTAINER), "initContainers": _keyed("name", _CONTAINER),
             "ephemeralContainers": _keyed("name", _CONTAINER), "volumes": _keyed("name"),
             "imagePullSecrets": _keyed("name"), "hostAliases": _keyed("ip"),
             "topologySpreadConstraints": _keyed("topologyKey"), "resourceClaims": _keyed("name"),
             "schedulingGates": _keyed("name")}
_TEMPLATE = {"template": {"metadata": _META, "spec": _POD_SPEC}}
_WORKLOAD_STATUS = {"conditions": _keyed("type")}
_POD_STATUS = {"conditions": _keyed("type"), "podIPs": _keyed("ip"), "hostIPs": _keyed("ip")}

_SCHEMAS: dict[tuple[str, str], dict] = {
    ("", "Pod"): {"spec": _POD_SPEC, "status": _POD_STATUS},
    ("", "Service"): {"spec": {"ports": _keyed("port")}, "status": _CONDITIONS},
    ("", "Node"): {"spec": {"podCIDRs": _SET}, "status": {"conditions": _keyed("type"),
                                                         "addresses": _keyed("type")}},
    ("", "Namespace"): {"status": _CONDITIONS},
    ("apps", "Deployment"): {"spec": _TEMPLATE, "status": _WORKLOAD_STATUS},
    ("apps", "ReplicaSet"): {"spec": _TEMPLATE, "status": _WORKLOAD_STATUS},
    ("apps", "StatefulSet"): {"spec": _TEMPLATE, "status": _WORKLOAD_STATUS},
    ("apps", "DaemonSet"): {"spec": _TEMPLATE, "status": _WORKLOAD_STATUS},
    ("policy", "PodDisruptionBudget"): {"status": _CONDITIONS},
}


def schema_for(group: str, kind: str) -> dict:
    """The merge declarations of a built-in kind (kinds without lists to merge get only ``metadata``)."""
    return dict(_SCHEMAS.get((group, kind), {}), metadata=_META)


def strategic_merge_patch(original: dict, patch: dict, schema: dict) -> dict:
    """The object after ``patch``; ``original`` is not changed."""
    if not isinstance(patch, dict):
        raise PatchError("the body of the request was in an unknown format")
    merged = _merge_map(copy.deepcopy(original) if isinstance(original, dict) else {}, patch, schema)
    return {} if merged is _DELETE else merged


_DELETE = object()
_ORDER, _DELETE_FROM = "$setElementOrder/", "$deleteFromPrimitiveList/"


def _merge_map(original: dict, patch: dict, schema: dict):
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _merge_map({}, {k: v for k, v in patch.items() if k != "$patch"}, schema)
    if directive is not None:
        raise PatchError(f"Unknown patch type: {directive}")
    for key, values in patch.items():
        if key.startswith(_DELETE_FROM):
            field = key[len(_DELETE_FROM):]
            if isinstance(original.get(field), list):
                original[field] = [v for v in original[field] if v not in (values or [])]
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            original.pop(key, None)
            continue
        declared = (schema or {}).get(key) or {}
        if isinstance(value, dict):
            sub = declared if isinstance(declared, dict) else {}
            merged = _merge_map(original[key] if isinstance(original.get(key), dict) else {}, value, sub)
            if merged is _DELETE:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list) and isinstance(declared, tuple):
            original[key] = _merge_list(original.get(key) if isinstance(original.get(key), list) else [], value,
                                        declared[1], declared[2])
        else:
            original[key] = _plain(value)
    for key, order in patch.items():
        if key.startswith(_ORDER) and isinstance(original.get(key[len(_ORDER):]), list):
            field = key[len(_ORDER):]
            declared = (schema or {}).get(field)
            merge_key = declared[1] if isinstance(declared, tuple) else ""
            original[field] = _reorder(original[field], order or [], merge_key)
    if "$retainKeys" in patch:
        keep = set(patch["$retainKeys"] or [])
        for key in [k for k in original if k not in keep]:
            del original[key]
    return original


def _plain(value):
    """A value taken as it is, without the directives a client may have left in it."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_plain(v) for v in value if not (isinstance(v, dict) and set(v) == {"$patch"})]
    return value


def _merge_list(original: list, patch: list, merge_key: str, item_schema: dict) -> list:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [_plain(item) for item in patch if not (isinstance(item, dict) and item.get("$patch") == "replace")]
    if not merge_key:  # a set of scalars: union, original order first
        return copy.deepcopy(original) + [v for i, v in enumerate(patch) if v not in original and v not in patch[:i]]
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {merge_key}")
        index = next((i for i, existing in enumerate(result)
                      if isinstance(existing, dict) and existing.get(merge_key) == item[merge_key]), None)
        if item.get("$patch") == "delete":
            result = [e for e in result if not (isinstance(e, dict) and e.get(merge_key) == item[merge_key])]
        elif index is None:
            result.append(_merge_map({}, item, item_schema))
        else:
            result[index] = _merge_map(result[index], item, item_schema)
    return result


def _reorder(items: list, order: list, merge_key: str) -> list:
    """``$setElementOrder``: the listed items in that order; the others keep their place relative to them."""
    def ident(item):
        return item.get(merge_key) if merge_key and isinstance(item, dict) else item

    wanted = [ident(o) for o in order]
    listed = sorted((i for i in items if ident(i) in wanted), key=lambda i: wanted.index(ident(i)))
    position = {id(item): index for index, item in enumerate(items)}
    out: list = []
    for item in items:
        if ident(item) in wanted:
            continue
        # place an unlisted item before the first listed item that came after it in the original list
        while listed and position[id(listed[0])] < position[id(item)]:
            out.append(listed.pop(0))
        out.append(item)
    return out + listed
