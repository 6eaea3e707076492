"""OpenAPI v3 documents, just enough for clients that ask the server whether it validates fields itself.

kubectl's resource builder (and Helm, which uses it to build objects from a release manifest) checks
``/openapi/v3``: when the PATCH operation of a kind lists the ``fieldValidation`` query parameter, it leaves
validation to the server; otherwise it falls back to validating client-side against ``/openapi/v2`` in its
*protobuf* encoding, which this emulator does not speak (the JSON document fails with "proto: cannot parse
invalid wire-format data"). So the root lists one document per served group/version, and each document holds,
per kind, a PATCH operation tagged with ``x-kubernetes-group-version-kind`` and the ``fieldValidation``
parameter — no schemas.
"""
from __future__ import annotations

from .resources import ResourceType

#: the fixed hash in ``serverRelativeURL`` (clients only pass it back)
HASH = "EMULATED"


def api_path(group: str, version: str) -> str:
    """The document key of a group/version: ``api/v1`` or ``apis/<group>/<version>``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def root(types: list[ResourceType]) -> dict:
    """``/openapi/v3``: where each group/version's document lives."""
    paths = sorted({api_path(t.group, t.version) for t in types})
    return {"paths": {p: {"serverRelativeURL": f"/openapi/v3/{p}?hash={HASH}"} for p in paths}}


def group_version(types: list[ResourceType], group: str, version: str) -> dict | None:
    """``/openapi/v3/<api path>``: one PATCH operation per kind, or None when the group/version is not served."""
    served = [t for t in types if t.group == group and t.version == version]
    if not served:
        return None
    paths = {}
    for t in served:
        prefix = f"/{api_path(group, version)}" + ("/namespaces/{namespace}" if t.namespaced else "")
        paths[f"{prefix}/{t.plural}/{{name}}"] = {"patch": {
            "operationId": f"patch{t.kind}",
            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": t.kind},
            "parameters": [{"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                           {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "OK"}},
        }}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "unversioned"}, "paths": paths}
