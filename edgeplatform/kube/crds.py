"""CustomResourceDefinitions of the platform kinds (DESIGN §2), one generator for all of them.

Each CRD is generated from a ``KindInfo`` (``edgeplatform.resources.kinds``): names, scope, the kind's DRF spec
serializer (the same serializer that validates API input, so the CRD accepts exactly the manifests the API
produces), status schema and printer columns. Every app declares its own kinds: a kind with a converter carries
its declaration on the converter, and those with ``has_crd`` are the kinds CRD sync and kubewatch keep in step with
the database (``crd_kinds()``); a kind whose model, API and controller have not arrived yet is registered as a
``KindInfo`` by its app, gets a CRD, and nothing syncs it. Nothing here names an app.

What this module emits is exactly what kube-apiserver stores back (``settled()`` spells out the API server's
defaulting and its dropping of empty fields, and a test holds the generator to it), so ``kubectl apply
--server-side -f deploy/crds/`` and ``install_crds`` find nothing to change on a second run.
``deploy/crds/`` holds the rendered files (``manage.py install_crds --write deploy/crds``); a test checks that
they equal what this module generates. ``install(client)`` applies them with server-side apply (only those whose
stored form differs) and waits until the API server reports each one ``Established``.
"""
from __future__ import annotations

import time
from pathlib import Path

import yaml

from edgeplatform.resources import kinds
from edgeplatform.resources.converters import Converter, registered
from edgeplatform.resources.kinds import KindInfo
from edgeplatform.resources.schemas import CRD, STRING, described, spec_schema

from .client import KubeClient
from .errors import KubeError
from .operations import apply, get

__all__ = ["CRD_API_VERSION", "CRD_DIR", "crd_for", "crd_kinds", "crds", "declared", "definitions", "established",
           "file_name", "install", "render", "settled", "stale_files", "up_to_date", "write_files"]

CRD_API_VERSION = "apiextensions.k8s.io/v1"
CRD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "crds"
CATEGORY = "edge"
PART_OF = {"app.kubernetes.io/part-of": "edge-platform"}


def crd_kinds() -> list[Converter]:
    """The converters of the kinds that have a CRD, in a stable order (group, kind): the kinds CRD sync and
    kubewatch keep in step with the database (declared kinds have no table to sync into)."""
    found = {(c.group, c.kind): c for c in registered() if c.has_crd}
    return [found[key] for key in sorted(found)]


def definitions() -> list[KindInfo]:
    """Every kind that has a CRD, synced or declared, in a stable order (group, kind)."""
    return [info for info in kinds.registered() if info.crd]


def declared() -> list[KindInfo]:
    """The kinds that have a CRD and no converter: nothing syncs them."""
    return [info for info in definitions() if not info.synced]


# --- the CRD ----------------------------------------------------------------------------------------------------

def _description(kind: KindInfo) -> str:
    if kind.synced:
        return (f"{kind.kind} of the Edge Platform: kept in step with the platform's database, where changes made "
                "here are brought back.")
    return f"{kind.kind} of the Edge Platform."


_CONVENTIONS = "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"


def _envelope(kind: KindInfo) -> dict:
    """``apiVersion``, ``kind`` and ``metadata``, described as Kubernetes describes them."""
    return {
        "apiVersion": described(f"The versioned schema of this representation of an object: "
                                 f"{kind.group}/{kind.version}. More info: {_CONVENTIONS}#resources", STRING),
        "kind": described(f"The REST resource this object represents: {kind.kind}. More info: "
                           f"{_CONVENTIONS}#types-kinds", STRING),
        "metadata": described(f"Standard object metadata: name, labels, annotations. More info: "
                               f"{_CONVENTIONS}#metadata", {"type": "object"}),
    }


def crd_for(kind: KindInfo | Converter) -> dict:
    """The CustomResourceDefinition of one kind (its declaration, or the converter that carries it)."""
    if isinstance(kind, Converter):
        kind = KindInfo.of(kind)
    properties = {**_envelope(kind), "spec": spec_schema(kind, CRD)}
    version: dict = {"name": kind.version, "served": True, "storage": True}
    if kind.status is not None:
        properties["status"] = kind.status
    version["schema"] = {"openAPIV3Schema": {"description": _description(kind), "type": "object",
                                             "properties": properties}}
    if kind.status is not None:
        version["subresources"] = {"status": {}}
    version["additionalPrinterColumns"] = [dict(column) for column in kind.columns]
    names: dict = {"kind": kind.kind, "listKind": f"{kind.kind}List", "plural": kind.plural,
                   "singular": kind.kind.lower()}
    if kind.short_names:
        names["shortNames"] = list(kind.short_names)
    names["categories"] = [CATEGORY, *kind.categories]
    return {
        "apiVersion": CRD_API_VERSION, "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{kind.group}", "labels": dict(PART_OF)},
        # conversion: the API server's default, written out so that what it stores equals the file
        "spec": {"group": kind.group, "names": names, "scope": kind.scope, "versions": [version],
                 "conversion": {"strategy": "None"}},
    }


# --- what the API server stores ---------------------------------------------------------------------------------

#: JSONSchemaProps fields that are pointers in kube-apiserver's Go types: kept whatever their value (``default:
#: false``, ``minimum: 0``, ``x-kubernetes-preserve-unknown-fields: false``). Every other field is ``omitempty``:
#: an empty string, list or map and ``false`` are dropped on the way into storage.
_POINTER_KEYS = frozenset({
    "default", "example", "maximum", "minimum", "maxLength", "minLength", "maxItems", "minItems", "maxProperties",
    "minProperties", "multipleOf", "items", "additionalProperties", "additionalItems", "not",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type", "x-kubernetes-map-type",
})
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def _empty(value) -> bool:
    return value is False or value in ("", None) or (isinstance(value, list | dict) and not value)


def _settled_schema(schema: dict) -> dict:
    out = {}
    for key, value in schema.items():
        if key not in _POINTER_KEYS and _empty(value):
            continue
        if key in _SCHEMA_MAPS:
            value = {name: _settled_schema(child) for name, child in value.items()}
        elif key in _SCHEMA_LISTS:
            value = [_settled_schema(child) for child in value]
        elif key in ("items", "additionalProperties", "additionalItems", "not") and isinstance(value, dict):
            value = _settled_schema(value)
        out[key] = value
    return out


def _without_empty(mapping: dict, keep: tuple[str, ...] = (), zero: bool = False) -> dict:
    """``mapping`` without its empty values (and, with ``zero``, its zero numbers: ``omitempty`` integers)."""
    return {key: value for key, value in mapping.items()
            if key in keep or not (_empty(value) or (zero and value == 0 and not isinstance(value, bool)))}


def settled(crd: dict) -> dict:
    """The CRD as kube-apiserver (v1) stores and returns it, less status and server-set metadata: its defaults
    filled in (``names.singular``, ``names.listKind``, ``conversion.strategy: None``) and its empty optional
    fields dropped (an empty ``properties``, ``required`` or ``shortNames``, a column's ``priority: 0``, …)."""
    spec = dict(crd.get("spec") or {})
    names = dict(spec.get("names") or {})
    names.setdefault("singular", str(names.get("kind", "")).lower())
    if names.get("kind"):
        names.setdefault("listKind", f"{names['kind']}List")
    spec["names"] = _without_empty(names)
    spec.setdefault("conversion", {"strategy": "None"})
    versions = []
    for version in spec.get("versions") or []:
        version = _without_empty(dict(version), keep=("served", "storage"))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is not None:
            version["schema"] = {**version["schema"], "openAPIV3Schema": _settled_schema(schema)}
        if "additionalPrinterColumns" in version:
            version["additionalPrinterColumns"] = [_without_empty(dict(column), zero=True)  # priority: 0
                                                   for column in version["additionalPrinterColumns"]]
        versions.append(version)
    spec["versions"] = versions
    spec = _without_empty(spec)
    metadata = {key: crd["metadata"][key] for key in ("name", "labels", "annotations")
                if not _empty((crd.get("metadata") or {}).get(key))}
    return {"apiVersion": crd.get("apiVersion", CRD_API_VERSION), "kind": "CustomResourceDefinition",
            "metadata": metadata, "spec": spec}


def up_to_date(stored: dict | None, crd: dict) -> bool:
    """Whether a stored CRD already is ``crd``: the same spec once both are settled, and ``crd``'s labels and
    annotations present (others may have added their own)."""
    if stored is None:
        return False
    have, want = settled(stored), settled(crd)
    if have["spec"] != want["spec"]:
        return False
    return all(set(want["metadata"].get(key, {}).items()) <= set(have["metadata"].get(key, {}).items())
               for key in ("labels", "annotations"))


def crds() -> list[dict]:
    """Every CRD, in a stable order."""
    return [crd_for(kind) for kind in definitions()]


def file_name(crd: dict) -> str:
    """``<group>_<plural>.yaml``, the layout controller-gen uses."""
    return f"{crd['spec']['group']}_{crd['spec']['names']['plural']}.yaml"


HEADER = ("# Generated by edgeplatform/kube/crds.py (`manage.py install_crds --write deploy/crds`): "
          "do not edit by hand.\n")


class _Dumper(yaml.SafeDumper):
    """Plain YAML: shared sub-schemas are written out in full, never as anchors and aliases."""

    def ignore_aliases(self, data):
        return True


def render(crd: dict) -> str:
    """A CRD as the YAML document stored under ``deploy/crds/``."""
    return HEADER + "---\n" + yaml.dump(crd, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                                        width=120, allow_unicode=True)


def write_files(directory: Path = CRD_DIR) -> list[Path]:
    """Write every CRD to ``directory`` (and remove files of kinds that no longer have one)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for crd in crds():
        path = directory / file_name(crd)
        path.write_text(render(crd), encoding="utf-8")
        written.append(path)
    for path in directory.glob("*.yaml"):
        if path not in written:
            path.unlink()
    return written


def stale_files(directory: Path = CRD_DIR) -> list[str]:
    """File names under ``directory`` that differ from the generated CRDs (missing, changed or extra)."""
    expected = {file_name(crd): render(crd) for crd in crds()}
    present = {path.name: path.read_text(encoding="utf-8") for path in directory.glob("*.yaml")} \
        if directory.exists() else {}
    return sorted(name for name in expected.keys() | present.keys() if expected.get(name) != present.get(name))


# --- installing -------------------------------------------------------------------------------------------------

NO_CONDITIONS_GRACE = 5.0  # seconds to wait for a server that reports no CRD conditions at all


def established(crd: dict | None) -> bool | None:
    """True/False from the CRD's ``Established`` condition; None when the server reports no conditions."""
    conditions = ((crd or {}).get("status") or {}).get("conditions")
    if not conditions:
        return None
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def install(client: KubeClient, definitions: list[dict] | None = None, timeout: float = 60.0,
            interval: float = 0.5) -> list[dict]:
    """Apply every CRD that is missing or differs (server-side apply) and wait until each is ``Established``.

    A CRD whose stored form already equals the generated one (``up_to_date``: compared as the API server stores
    them, so its defaulting is no difference) is not written at all and reports ``changed: False``.
    Returns ``[{"name", "resourceVersion", "changed", "established"}]``. Raises ``KubeError`` (408 Timeout)
    when a CRD is not established within ``timeout`` seconds.
    """
    results = []
    for crd in definitions if definitions is not None else crds():
        name = crd["metadata"]["name"]
        before = get(client, CRD_API_VERSION, "CustomResourceDefinition", name)
        changed = not up_to_date(before, crd)
        stored = apply(client, crd) if changed else before
        results.append({"name": name, "resourceVersion": stored["metadata"].get("resourceVersion", ""),
                        "changed": changed, "established": established(stored)})
    start = time.monotonic()
    for result in results:
        # None: the server has not reported conditions (yet); wait a little for them, then take its word
        while result["established"] is not True:
            waited = time.monotonic() - start
            if result["established"] is None and waited > min(timeout, NO_CONDITIONS_GRACE):
                break
            if waited > timeout:
                raise KubeError(408, "Timeout", f'CRD {result["name"]} was not established within {timeout:g}s')
            time.sleep(interval)
            result["established"] = established(get(client, CRD_API_VERSION, "CustomResourceDefinition",
                                                    result["name"]))
    client.forget_discovery()  # the new kinds are served now
    return results
