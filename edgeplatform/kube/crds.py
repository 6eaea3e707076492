"""CustomResourceDefinitions of the platform kinds (DESIGN §2), one generator for all of them.

Each CRD is generated from a ``CRDKind``: names, scope, the kind's DRF spec serializer (the same serializer that
validates API input, so the CRD accepts exactly the manifests the API produces), status schema and printer
columns. Kinds with a converter take names and serializer from it and the rest from ``KINDS``; those are the
kinds CRD sync and kubewatch keep in step with the database (``crd_kinds()``). Kinds whose models, API and
controllers have not arrived yet are described in full in ``DECLARED``: they get a CRD, and nothing syncs them.
Statuses, printer columns and fields whose serializer is free-form JSON with a known shape (PolicyRules, label
selectors) are declared here.
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
from django.utils.module_loading import import_string
from rest_framework import serializers

from edgeplatform.resources.converters import Converter, LabelSelectorField, registered

from .client import KubeClient
from .errors import KubeError
from .operations import apply, get

__all__ = ["CRD_API_VERSION", "CRD_DIR", "DECLARED", "KINDS", "CRDKind", "KindExtras", "crd_for", "crd_kinds", "crds",
           "definitions", "established", "file_name", "install", "render", "schema_of_field", "stale_files",
           "write_files"]

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
DATE_TIME = {"type": "string", "format": "date-time"}
AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
SCOPES = ("Cluster", "Namespaced")

#: Fields whose serializer is a JSONField with a known shape, by dotted class name (no import: the apps
#: depend on ``edgeplatform``, never the reverse).
FIELD_SCHEMAS: dict[str, dict] = {
    "iam.manifests.RulesField": {"type": "array", "items": POLICY_RULE},
}


def _label(key: str, where: str = "labels") -> str:
    """The JSONPath of a label (or annotation), dots escaped as kubectl wants them."""
    return f".metadata.{where}['" + key.replace(".", "\\.") + "']"


def _annotation(key: str) -> str:
    """The JSONPath of an annotation."""
    return _label(key, "annotations")


def _status(**properties) -> dict:
    """A status schema: the known fields typed; the platform alone writes status, and a field a newer
    controller adds must not be pruned on the way to the cluster, so unknown fields are kept."""
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"observedGeneration": {"type": "integer", "format": "int64"}, **properties}}


def _open_object(**properties) -> dict:
    """An object inside a status: known fields typed, others kept (for the same reason as ``_status``)."""
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": properties}


@dataclass(frozen=True)
class KindExtras:
    """What a CRD needs beyond the converter: its status (None: the kind has none), printer columns,
    categories and scope."""

    status: dict | None
    columns: tuple[dict, ...] = ()
    categories: tuple[str, ...] = field(default=())
    scope: str = "Cluster"


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


@dataclass(frozen=True)
class CRDKind:
    """Everything one CRD is generated from."""

    group: str
    kind: str
    plural: str
    scope: str  # "Cluster" or "Namespaced"
    #: the DRF spec serializer, or its dotted path (``edgeplatform`` never imports the apps); None: free-form
    spec_serializer: type[serializers.Serializer] | str | None
    status: dict | None  # None: the kind has no status (and no status subresource)
    columns: tuple[dict, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    version: str = "v1alpha1"
    #: a converter keeps the custom resources in step with the database (CRD sync, kubewatch)
    synced: bool = False

    def __post_init__(self):
        if self.scope not in SCOPES:
            raise ValueError(f"{self.kind}: scope must be one of {', '.join(SCOPES)}, not {self.scope!r}")

    @classmethod
    def of(cls, converter: Converter) -> CRDKind:
        """The description of a kind that has a converter: its names and serializer, the rest from ``KINDS``."""
        extras = KINDS[(converter.group, converter.kind)]
        return cls(converter.group, converter.kind, converter.plural, extras.scope, converter.spec_serializer,
                   extras.status, extras.columns, tuple(converter.short_names), extras.categories,
                   converter.version, synced=True)

    def serializer(self) -> serializers.Serializer | None:
        """An instance of the spec serializer (None when the spec is free-form)."""
        spec_serializer = self.spec_serializer
        if isinstance(spec_serializer, str):
            spec_serializer = import_string(spec_serializer)
        return spec_serializer() if spec_serializer is not None else None


_APP, _EXT = "app.theriseunion.io", "ext.theriseunion.io"
_PHASE = {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}

#: The kinds of DESIGN §2 that have a CRD but no converter yet: their models, API and controllers arrive with
#: the app store and components work (which then moves each entry to ``KINDS``). Nothing syncs them.
DECLARED: tuple[CRDKind, ...] = (
    CRDKind(_APP, "Application", "applications", "Cluster", "appstore.manifests.ApplicationSpecSerializer",
            _status(phase=STRING, conditions=CONDITIONS, latestVersion=STRING, versionCount=COUNT), (
                {"name": "DisplayName", "type": "string", "jsonPath": _annotation("theriseunion.io/display-name")},
                {"name": "Provisioner", "type": "string", "jsonPath": _label("app.theriseunion.io/provisioner")},
                {"name": "Category", "type": "string", "jsonPath": _label("app.theriseunion.io/category")},
                {"name": "Workspace", "type": "string", "jsonPath": _label("theriseunion.io/workspace")},
                {"name": "Latest", "type": "string", "jsonPath": ".status.latestVersion"},
                AGE), categories=("app",)),
    CRDKind(_APP, "ApplicationVersion", "applicationversions", "Cluster",
            "appstore.manifests.ApplicationVersionSpecSerializer",
            _status(phase=STRING, conditions=CONDITIONS,
                    reviewPhase={"type": "string", "enum": ["Pending", "Approved", "Rejected"]},
                    reviewer=STRING, reviewTime=DATE_TIME, reviewMessage=STRING, submitter=STRING,
                    submitTime=DATE_TIME), (
                {"name": "Application", "type": "string", "jsonPath": ".spec.applicationRef"},
                {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
                {"name": "Review", "type": "string", "jsonPath": ".status.reviewPhase"},
                {"name": "Reviewer", "type": "string", "jsonPath": ".status.reviewer", "priority": 1},
                _PHASE, AGE), categories=("app",)),
    CRDKind(_APP, "ApplicationDeployment", "applicationdeployments", "Namespaced",
            "appstore.manifests.ApplicationDeploymentSpecSerializer",
            _status(applicationVersion=STRING, phase=STRING, message=STRING, conditions=CONDITIONS,
                    readyStatus=STRING, readyReplicas=COUNT, totalReplicas=COUNT,
                    topologyStatuses={"type": "array", "items": _open_object(
                        topology=FREE_OBJECT, topologyIndex=COUNT, workloadName=STRING, replicas=COUNT,
                        readyReplicas=COUNT, nodes=STRINGS, phase=STRING, message=STRING)},
                    history={"type": "array", "maxItems": 10, "items": _open_object(
                        toVersion=STRING, fromVersion=STRING,
                        reason={"type": "string", "enum": ["Initial", "Upgrade", "Rollback"]},
                        timestamp=DATE_TIME, operator=STRING, message=STRING)}), (
                {"name": "Application", "type": "string", "jsonPath": ".spec.application"},
                {"name": "Version", "type": "string", "jsonPath": ".status.applicationVersion"},
                {"name": "Ready", "type": "string", "jsonPath": ".status.readyStatus"},
                _PHASE, AGE), short_names=("appd",), categories=("app",)),
    CRDKind(_EXT, "Component", "components", "Namespaced", "components.manifests.ComponentSpecSerializer",
            _status(phase=STRING, message=STRING, conditions=CONDITIONS, observedHash=STRING, releaseName=STRING,
                    releaseVersion=COUNT, retryCount=COUNT, lastFailureTime=DATE_TIME), (
                {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
                {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
                _PHASE,
                {"name": "Release", "type": "string", "jsonPath": ".status.releaseName", "priority": 1},
                AGE), short_names=("comp",), categories=("ext",)),
)


def crd_kinds() -> list[Converter]:
    """The converters of the kinds that have a CRD, in a stable order (group, kind): the kinds CRD sync and
    kubewatch keep in step with the database (``DECLARED`` kinds have no table to sync into)."""
    found = {(c.group, c.kind): c for c in registered() if (c.group, c.kind) in KINDS}
    return [found[key] for key in sorted(found)]


def definitions() -> list[CRDKind]:
    """Every kind that has a CRD, synced or declared, in a stable order (group, kind)."""
    described = {(d.group, d.kind): d for d in map(CRDKind.of, crd_kinds())}
    for declared in DECLARED:
        described.setdefault((declared.group, declared.kind), declared)
    return [described[key] for key in sorted(described)]


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
    if isinstance(drf_field, serializers.DictField) and isinstance(drf_field.child, serializers.JSONField):
        return dict(FREE_OBJECT)  # an object with any content
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
        if _plain_default(drf_field):
            properties[name]["default"] = drf_field.default  # the API server fills it in, as the API does
        if drf_field.required:
            required.append(name)
    out: dict = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    if getattr(serializer, "preserve_unknown_fields", False):  # fields it does not declare pass through
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _plain_default(drf_field) -> bool:
    """True when the field's default is a constant a CRD can carry (not a callable, not ``None``)."""
    return isinstance(drf_field.default, bool | int | str) and not callable(drf_field.default)


def _plain_text_secret(name: str, drf_field) -> bool:
    """Write-only plain-text passwords never go to the cluster: the API server prunes them from a CR
    (a bcrypt ``encryptedPassword`` is kept, as in the reference CRD)."""
    return drf_field.write_only and name == "password"


def spec_schema(kind: CRDKind | Converter) -> dict:
    """The spec schema of a kind, from its spec serializer (free-form when it has none)."""
    serializer = (CRDKind.of(kind) if isinstance(kind, Converter) else kind).serializer()
    return dict(FREE_OBJECT) if serializer is None else schema_of_field(serializer)


# --- the CRD ----------------------------------------------------------------------------------------------------

def _description(kind: CRDKind) -> str:
    if kind.synced:
        return (f"{kind.kind} of the Edge Platform: kept in step with the platform's database, where changes made "
                "here are brought back.")
    return f"{kind.kind} of the Edge Platform."


def crd_for(kind: CRDKind | Converter) -> dict:
    """The CustomResourceDefinition of one kind (a description, or a converter of a kind in ``KINDS``)."""
    if isinstance(kind, Converter):
        kind = CRDKind.of(kind)
    properties = {"apiVersion": STRING, "kind": STRING, "metadata": {"type": "object"}, "spec": spec_schema(kind)}
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
        "spec": {"group": kind.group, "names": names, "scope": kind.scope, "versions": [version]},
    }


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
