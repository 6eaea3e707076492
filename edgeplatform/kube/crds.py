"""CustomResourceDefinitions of the platform kinds, derived from their converters.

The spec schema of each CRD is generated from the converter's DRF spec serializer (the same serializer that
validates API input), so the CRD accepts exactly the manifests the API produces; statuses, printer columns and
fields whose serializer is free-form JSON with a known shape (PolicyRules, label selectors) are declared here.
``deploy/crds/`` holds the rendered files (``manage.py install_crds --write deploy/crds``); a test checks that
they equal what this module generates. ``install(client)`` applies them with server-side apply and waits until
the API server reports each one ``Established``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.core.validators import MaxLengthValidator, RegexValidator
from rest_framework import serializers

from edgeplatform.resources.converters import Converter, LabelSelectorField, registered

from .client import KubeClient
from .errors import KubeError
from .operations import apply, get

__all__ = ["CRD_API_VERSION", "CRD_DIR", "KINDS", "crd_for", "crd_kinds", "crds", "file_name", "install",
           "render", "schema_of_field", "stale_files", "write_files"]

CRD_API_VERSION = "apiextensions.k8s.io/v1"
CRD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "crds"
CATEGORY = "edge"
PART_OF = {"app.kubernetes.io/part-of": "edge-platform"}

# --- shapes shared by several kinds ---------------------------------------------------------------------------

STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
STRING_MAP = {"type": "object", "additionalProperties": STRING}
FREE_OBJECT = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
ANY_JSON = {"x-kubernetes-preserve-unknown-fields": True}  # any JSON value (a JSONField): structural without a type

POLICY_RULE = {
    "type": "object",
    "required": ["verbs"],
    "properties": {
        "apiGroups": STRINGS, "resources": STRINGS, "resourceNames": STRINGS, "nonResourceURLs": STRINGS,
        "verbs": STRINGS,
    },
}
LABEL_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": STRING_MAP,
        "matchExpressions": {"type": "array", "items": {
            "type": "object", "required": ["key", "operator"],
            "properties": {"key": STRING, "operator": {"type": "string",
                                                        "enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                           "values": STRINGS}}},
    },
}
CONDITIONS = {"type": "array", "items": {
    "type": "object", "required": ["type", "status"],
    "properties": {
        "type": STRING, "status": {"type": "string", "enum": ["True", "False", "Unknown"]}, "reason": STRING,
        "message": STRING, "lastTransitionTime": {"type": "string", "format": "date-time"},
        "observedGeneration": {"type": "integer", "format": "int64"},
    }}}
COUNT = {"type": "integer", "format": "int32", "minimum": 0}
AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}

#: Fields whose serializer is a JSONField with a known shape, by dotted class name (no import: the apps
#: depend on ``edgeplatform``, never the reverse).
FIELD_SCHEMAS: dict[str, dict] = {
    "iam.manifests.RulesField": {"type": "array", "items": POLICY_RULE},
}


def _label(key: str) -> str:
    """The JSONPath of a label (dots escaped, as kubectl wants them)."""
    return ".metadata.labels['" + key.replace(".", "\\.") + "']"


def _status(**properties) -> dict:
    """A status schema: the known fields typed; the platform alone writes status, and a field a newer
    controller adds must not be pruned on the way to the cluster, so unknown fields are kept."""
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"observedGeneration": {"type": "integer", "format": "int64"}, **properties}}


@dataclass(frozen=True)
class KindExtras:
    """What a CRD needs beyond the converter: its status (None: the kind has none) and printer columns."""

    status: dict | None
    columns: tuple[dict, ...] = ()
    categories: tuple[str, ...] = field(default=())


_SCOPE = "iam.theriseunion.io/scope"
_SCOPE_VALUE = "iam.theriseunion.io/scope-value"
_CLUSTER = "scope.theriseunion.io/cluster"

#: The kinds that have a CRD (DESIGN §2) and a converter today, by (group, kind).
KINDS: dict[tuple[str, str], KindExtras] = {
    ("iam.theriseunion.io", "RoleTemplate"): KindExtras(None, (
        {"name": "Scope", "type": "string", "jsonPath": _label(_SCOPE)},
        {"name": "Category", "type": "string", "jsonPath": _label("iam.theriseunion.io/category")},
        AGE), ("iam",)),
    ("iam.theriseunion.io", "IAMRole"): KindExtras(_status(memberCount=COUNT), (
        {"name": "Scope", "type": "string", "jsonPath": _label(_SCOPE)},
        {"name": "Scope-Value", "type": "string", "jsonPath": _label(_SCOPE_VALUE)},
        {"name": "Members", "type": "integer", "jsonPath": ".status.memberCount"},
        AGE), ("iam",)),
    ("iam.theriseunion.io", "IAMRoleBinding"): KindExtras(None, (
        {"name": "Role", "type": "string", "jsonPath": ".spec.roleRef.name"},
        {"name": "Scope", "type": "string", "jsonPath": _label(_SCOPE)},
        {"name": "Scope-Value", "type": "string", "jsonPath": _label(_SCOPE_VALUE)},
        AGE), ("iam",)),
    ("iam.theriseunion.io", "User"): KindExtras(_status(
        state={"type": "string", "enum": ["Active", "Disabled"]}, reason=STRING,
        lastLoginTime={"type": "string", "format": "date-time"}), (
        {"name": "Email", "type": "string", "jsonPath": ".spec.email"},
        {"name": "State", "type": "string", "jsonPath": ".status.state"},
        AGE), ("iam",)),
    ("iam.theriseunion.io", "Category"): KindExtras(None, (
        {"name": "Icon", "type": "string", "jsonPath": ".spec.icon", "priority": 1},
        AGE), ("iam",)),
    ("scope.theriseunion.io", "Cluster"): KindExtras(_status(
        conditions=CONDITIONS, kubernetesVersion=STRING, nodeCount=COUNT, region=STRING, zones=STRINGS), (
        {"name": "Role", "type": "string", "jsonPath": _label("cluster.theriseunion.io/role")},
        {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
        {"name": "Version", "type": "string", "jsonPath": ".status.kubernetesVersion"},
        {"name": "Nodes", "type": "integer", "jsonPath": ".status.nodeCount"},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        AGE), ("scope",)),
    ("scope.theriseunion.io", "Workspace"): KindExtras(_status(
        phase=STRING, conditions=CONDITIONS, memberCount=COUNT, namespaceCount=COUNT), (
        {"name": "DisplayName", "type": "string", "jsonPath": ".spec.displayName"},
        {"name": "Manager", "type": "string", "jsonPath": ".spec.manager"},
        {"name": "Cluster", "type": "string", "jsonPath": _label(_CLUSTER)},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        AGE), ("scope",)),
    ("scope.theriseunion.io", "NodeGroup"): KindExtras(_status(phase=STRING, conditions=CONDITIONS), (
        {"name": "DisplayName", "type": "string", "jsonPath": ".spec.displayName"},
        {"name": "Cluster", "type": "string", "jsonPath": _label(_CLUSTER)},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        AGE), ("scope",)),
}


def crd_kinds() -> list[Converter]:
    """The converters of the kinds that have a CRD, in a stable order (group, kind)."""
    found = {(c.group, c.kind): c for c in registered() if (c.group, c.kind) in KINDS}
    return [found[key] for key in sorted(found)]


# --- DRF serializer → OpenAPI v3 (structural) -----------------------------------------------------------------

def _dotted(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def schema_of_field(drf_field) -> dict:
    """The structural OpenAPI v3 schema of one DRF field or serializer."""
    for cls in type(drf_field).__mro__:
        if _dotted(cls) in FIELD_SCHEMAS:
            return dict(FIELD_SCHEMAS[_dotted(cls)])
    if isinstance(drf_field, serializers.ListSerializer):
        return {"type": "array", "items": schema_of_field(drf_field.child)}
    if isinstance(drf_field, serializers.Serializer):
        return _object_schema(drf_field)
    if isinstance(drf_field, LabelSelectorField):
        return dict(LABEL_SELECTOR)
    if isinstance(drf_field, serializers.JSONField):
        return dict(ANY_JSON)
    if isinstance(drf_field, serializers.ListField):
        return {"type": "array", "items": schema_of_field(drf_field.child)}
    if isinstance(drf_field, serializers.DictField):
        return {"type": "object", "additionalProperties": schema_of_field(drf_field.child)}
    if isinstance(drf_field, serializers.BooleanField):
        return {"type": "boolean"}
    if isinstance(drf_field, serializers.IntegerField):
        out = {"type": "integer"}
        if drf_field.min_value is not None:
            out["minimum"] = drf_field.min_value
        if drf_field.max_value is not None:
            out["maximum"] = drf_field.max_value
        return out
    if isinstance(drf_field, serializers.ChoiceField):
        return {"type": "string", "enum": [str(choice) for choice in drf_field.choices]}
    if isinstance(drf_field, serializers.CharField):
        return _string_schema(drf_field)
    raise TypeError(f"no OpenAPI schema for {type(drf_field).__name__}; add it to FIELD_SCHEMAS")


def _string_schema(drf_field) -> dict:
    out: dict = {"type": "string"}
    for validator in drf_field.validators:
        if isinstance(validator, RegexValidator) and not isinstance(drf_field, serializers.EmailField):
            # Python and the API server's (RE2/ECMA) syntax agree on the patterns the serializers use
            out["pattern"] = validator.regex.pattern
        elif isinstance(validator, MaxLengthValidator):
            out["maxLength"] = validator.limit_value
    return out


def _object_schema(serializer) -> dict:
    properties, required = {}, []
    for name, drf_field in serializer.fields.items():
        if drf_field.read_only:
            continue
        if _plain_text_secret(name, drf_field):
            continue
        properties[name] = schema_of_field(drf_field)
        if drf_field.required:
            required.append(name)
    out: dict = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


def _plain_text_secret(name: str, drf_field) -> bool:
    """Write-only plain-text passwords never go to the cluster: the API server prunes them from a CR
    (a bcrypt ``encryptedPassword`` is kept, as in the reference CRD)."""
    return drf_field.write_only and name == "password"


def spec_schema(converter: Converter) -> dict:
    """The spec schema of a kind, from its spec serializer (free-form when it has none)."""
    if converter.spec_serializer is None:
        return dict(FREE_OBJECT)
    return schema_of_field(converter.spec_serializer())


# --- the CRD ----------------------------------------------------------------------------------------------------

def crd_for(converter: Converter) -> dict:
    """The CustomResourceDefinition of one kind."""
    extras = KINDS[(converter.group, converter.kind)]
    properties = {"apiVersion": STRING, "kind": STRING, "metadata": {"type": "object"},
                  "spec": spec_schema(converter)}
    version: dict = {"name": converter.version, "served": True, "storage": True}
    if extras.status is not None:
        properties["status"] = extras.status
    version["schema"] = {"openAPIV3Schema": {
        "description": f"{converter.kind} of the Edge Platform: kept in step with the platform's database, "
                       "where changes made here are brought back.",
        "type": "object", "properties": properties}}
    if extras.status is not None:
        version["subresources"] = {"status": {}}
    version["additionalPrinterColumns"] = [dict(column) for column in extras.columns]
    names: dict = {"kind": converter.kind, "listKind": f"{converter.kind}List", "plural": converter.plural,
                   "singular": converter.kind.lower()}
    if converter.short_names:
        names["shortNames"] = list(converter.short_names)
    names["categories"] = [CATEGORY, *extras.categories]
    return {
        "apiVersion": CRD_API_VERSION, "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{converter.plural}.{converter.group}", "labels": dict(PART_OF)},
        "spec": {"group": converter.group, "names": names, "scope": "Cluster", "versions": [version]},
    }


def crds() -> list[dict]:
    """Every CRD, in a stable order."""
    return [crd_for(converter) for converter in crd_kinds()]


def file_name(crd: dict) -> str:
    """``<group>_<plural>.yaml``, the layout controller-gen uses."""
    return f"{crd['spec']['group']}_{crd['spec']['names']['plural']}.yaml"


HEADER = "# Generated from the converters by `manage.py install_crds --write deploy/crds`: do not edit by hand.\n"


class _Dumper(yaml.SafeDumper):
    """Plain YAML: shared sub-schemas are written out in full, never as anchors and aliases."""

    def ignore_aliases(self, data):
        return True


def render(crd: dict) -> str:
    """A CRD as the YAML document stored under ``deploy/crds/``."""
    return HEADER + "---\n" + yaml.dump(crd, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


def write_files(directory: Path = CRD_DIR) -> list[Path]:
    """Write every CRD to ``directory`` (and remove files of kinds that no longer have one)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for crd in crds():
        path = directory / file_name(crd)
        path.write_text(render(crd))
        written.append(path)
    for path in directory.glob("*.yaml"):
        if path not in written:
            path.unlink()
    return written


def stale_files(directory: Path = CRD_DIR) -> list[str]:
    """File names under ``directory`` that differ from the generated CRDs (missing, changed or extra)."""
    expected = {file_name(crd): render(crd) for crd in crds()}
    present = {path.name: path.read_text() for path in directory.glob("*.yaml")} if directory.exists() else {}
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
    """Apply every CRD (server-side apply, idempotent) and wait until each is ``Established``.

    Returns ``[{"name", "resourceVersion", "changed", "established"}]``. Raises ``KubeError`` (408 Timeout)
    when a CRD is not established within ``timeout`` seconds.
    """
    results = []
    for crd in definitions if definitions is not None else crds():
        name = crd["metadata"]["name"]
        before = get(client, CRD_API_VERSION, "CustomResourceDefinition", name)
        stored = apply(client, crd)
        results.append({"name": name, "resourceVersion": stored["metadata"].get("resourceVersion", ""),
                        "changed": before is None or before["metadata"].get("resourceVersion")
                        != stored["metadata"].get("resourceVersion"), "established": established(stored)})
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
