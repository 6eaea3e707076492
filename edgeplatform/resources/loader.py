"""Apply manifests from YAML (files of built-ins, samples, exports): create or replace each by name."""
from __future__ import annotations

from pathlib import Path

import yaml

from edgeplatform.resources.converters import registered
from edgeplatform.resources.services import save_manifest


def converter_for_manifest(manifest: dict):
    """The converter of a manifest's apiVersion and kind (None when the kind is unknown)."""
    for converter in registered():
        if converter.api_version == manifest.get("apiVersion") and converter.kind == manifest.get("kind"):
            return converter
    return None


def documents(text: str) -> list[dict]:
    """The non-empty YAML documents of a multi-document text."""
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def apply(manifests: list[dict], *, user=None, context: dict | None = None) -> list:
    """Create or replace every manifest (templates before roles before bindings); return the rows."""
    order = {"RoleTemplate": 0, "Category": 0, "IAMRole": 1, "IAMRoleBinding": 2}
    rows = []
    for manifest in sorted(manifests, key=lambda m: order.get(m.get("kind"), 1)):
        converter = converter_for_manifest(manifest)
        if converter is None:
            raise ValueError(f"unknown kind {manifest.get('apiVersion')}/{manifest.get('kind')}")
        metadata = manifest.get("metadata") or {}
        name = metadata.get("name")
        where = context
        if converter.namespaced and isinstance(metadata.get("namespace"), str):  # names repeat across namespaces
            where = {**(context or {}), "namespace": metadata["namespace"]}
        instance = converter.lookup(name, where) if isinstance(name, str) and name else None
        if instance is not None:
            manifest = {**manifest, "metadata": {k: v for k, v in manifest["metadata"].items()
                                                 if k != "resourceVersion"}}
        rows.append(save_manifest(converter, manifest, user=user, instance=instance, context=context))
    return rows


def apply_files(paths: list[Path], **kwargs) -> list:
    """Apply every manifest in the given YAML files."""
    manifests = [doc for path in paths for doc in documents(Path(path).read_text())]
    return apply(manifests, **kwargs)
