"""Custom resources checked against their CRD's ``openAPIV3Schema``, as kube-apiserver does on every write.

Unknown fields are pruned first (unless ``x-kubernetes-preserve-unknown-fields``), then the object is validated
with ``jsonschema`` (types, required, enums, patterns, bounds, items); every failure becomes one Status cause with
the field path written the way the API server writes it (``spec.rules[0].verbs``).
"""
from __future__ import annotations

import copy

from jsonschema import Draft202012Validator

_ROOT_FIELDS = ("apiVersion", "kind", "metadata")


def _to_json_schema(node):
    """OpenAPI v3 → JSON Schema: ``nullable`` becomes a null type; Kubernetes extensions are ignored."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "format" in out:
        out.pop("format")  # int32/int64/date-time are advisory here, as they mostly are for the API server
    return out


def prune(obj, schema: dict, root: bool = False):
    """Drop fields the schema does not declare, in place (structural pruning)."""
    if not isinstance(schema, dict):
        return
    if isinstance(obj, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        for key in list(obj):
            if root and key in _ROOT_FIELDS:
                continue
            if key in props:
                prune(obj[key], props[key])
            elif isinstance(additional, dict):
                prune(obj[key], additional)
            elif not preserve and additional is not True:
                del obj[key]
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for item in obj:
            prune(item, schema["items"])


def _field(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _cause(error) -> dict:
    field = _field(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return {"reason": "FieldValueRequired", "message": "Required value",
                "field": f"{field}.{missing}" if field else missing}
    if error.validator == "enum":
        supported = ", ".join(f'"{v}"' for v in error.validator_value)
        return {"reason": "FieldValueNotSupported", "field": field,
                "message": f'Unsupported value: "{error.instance}": supported values: {supported}'}
    if error.validator == "type":
        return {"reason": "FieldValueTypeInvalid", "field": field,
                "message": f'Invalid value: "{type(error.instance).__name__}": {field} in body must be of type '
                           f'{error.validator_value}: "{error.instance}"'}
    return {"reason": "FieldValueInvalid", "field": field, "message": f"Invalid value: {error.message}"}


def check(obj: dict, schema: dict | None) -> tuple[dict, list[dict]]:
    """(pruned copy of ``obj``, causes); no schema means anything goes."""
    if not schema:
        return obj, []
    pruned = copy.deepcopy(obj)
    prune(pruned, schema, root=True)
    body = {k: v for k, v in pruned.items() if k not in _ROOT_FIELDS}
    root = _to_json_schema(schema)
    root_props = {k: v for k, v in (root.get("properties") or {}).items() if k not in _ROOT_FIELDS}
    root = dict(root, properties=root_props)
    if "required" in root:
        root["required"] = [r for r in root["required"] if r not in _ROOT_FIELDS]
    errors = sorted(Draft202012Validator(root).iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    return pruned, [_cause(e) for e in errors]
