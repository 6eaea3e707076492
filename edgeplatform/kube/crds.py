"""CustomResourceDefinitions of the platform kinds (DESIGN §2), one generator for all of them.

Each CRD is generated from a ``CRDKind``: names, scope, the kind's DRF spec serializer (the same serializer that
validates API input, so the CRD accepts exactly the manifests the API produces), status schema and printer
columns. Kinds with a converter take names and serializer from it and the rest from ``KINDS``; those are the
kinds CRD sync and kubewatch keep in step with the database (``crd_kinds()``). Kinds whose models, API and
controllers have not arrived yet are described in full in ``DECLARED``: they get a CRD, and nothing syncs them.
Statuses, printer columns and fields whose serializer is free-form JSON with a known shape (PolicyRules, label
selectors) are declared here. Every field carries a ``description`` (from the serializer field's ``help_text``,
or declared beside the status), so ``kubectl explain`` documents it.

The same spec and status schemas are the manifests' schemas in the API's OpenAPI document
(``edgeplatform.resources.openapi`` asks ``kind_schemas()``): one source for both.

What this module emits is exactly what kube-apiserver stores back (``settled()`` spells out the API server's
defaulting and its dropping of empty fields, and a test holds the generator to it), so ``kubectl apply
--server-side -f deploy/crds/`` and ``install_crds`` find nothing to change on a second run.
``deploy/crds/`` holds the rendered files (``manage.py install_crds --write deploy/crds``); a test checks that
they equal what this module generates. ``install(client)`` applies them with server-side apply (only those whose
stored form differs) and waits until the API server reports each one ``Established``.
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

__all__ = ["API_ONLY", "CRD_API_VERSION", "CRD_DIR", "DECLARED", "KINDS", "CRDKind", "KindExtras", "crd_for",
           "crd_kinds", "crds", "definitions", "established", "file_name", "install", "kind_schemas", "render",
           "schema_of_field", "settled", "spec_schema", "stale_files", "up_to_date", "write_files"]

CRD_API_VERSION = "apiextensions.k8s.io/v1"
CRD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "crds"
CATEGORY = "edge"
PART_OF = {"app.kubernetes.io/part-of": "edge-platform"}

# --- shapes shared by several kinds ---------------------------------------------------------------------------

def _described(description: str, schema: dict) -> dict:
    """``schema`` with a description (what ``kubectl explain`` prints for the field)."""
    return {"description": description, **schema}


STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
STRING_MAP = {"type": "object", "additionalProperties": STRING}
FREE_OBJECT = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
ANY_JSON = {"x-kubernetes-preserve-unknown-fields": True}  # any JSON value (a JSONField): structural without a type

POLICY_RULE = {
    "type": "object",
    "description": "A Kubernetes PolicyRule: the verbs allowed on the resources (or non-resource URLs) named.",
    "required": ["verbs"],
    "properties": {
        "apiGroups": _described('API groups of the resources; "" is the core group, "*" any group.', STRINGS),
        "resources": _described('Resources (plurals such as "pods", "clusters"; "*" any resource).', STRINGS),
        "resourceNames": _described("Names of the objects the rule is limited to (empty: every object).",
                                    STRINGS),
        "nonResourceURLs": _described('URL paths that are not resources ("/healthz", "/metrics/*"); their verbs '
                                      "are HTTP methods.", STRINGS),
        "verbs": _described('Verbs allowed: get, list, watch, create, update, patch, delete, deletecollection, '
                            '"*".', STRINGS),
    },
}
LABEL_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": _described("Labels an object must carry with exactly these values.", STRING_MAP),
        "matchExpressions": {"type": "array", "description": "Requirements an object's labels must all meet.",
                             "items": {
            "type": "object", "required": ["key", "operator"],
            "properties": {"key": _described("The label key.", STRING),
                           "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"],
                                        "description": "How the key's value is compared with values."},
                           "values": _described("Values for In and NotIn; empty for Exists and DoesNotExist.",
                                                STRINGS)}}},
    },
}
CONDITIONS = {"type": "array", "description": "Kubernetes conditions; Ready is always present on reconciled kinds.",
              "items": {
    "type": "object", "required": ["type", "status"],
    "properties": {
        "type": _described("The condition's type (Ready, …).", STRING),
        "status": {"type": "string", "enum": ["True", "False", "Unknown"],
                   "description": "Whether the condition holds."},
        "reason": _described("A CamelCase word saying why the condition last changed.", STRING),
        "message": _described("A sentence for people about the last change.", STRING),
        "lastTransitionTime": {"type": "string", "format": "date-time",
                               "description": "When the status last changed."},
        "observedGeneration": {"type": "integer", "format": "int64",
                               "description": "The metadata.generation this condition was set for."},
    }}}
COUNT = {"type": "integer", "format": "int32", "minimum": 0}
DATE_TIME = {"type": "string", "format": "date-time"}
PHASE = _described("Where the object is in its lifecycle.", STRING)
AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
SCOPES = ("Cluster", "Namespaced")
OBSERVED_GENERATION = {"type": "integer", "format": "int64",
                       "description": "The metadata.generation (spec) this status describes."}

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


def _status(kind: str, **properties) -> dict:
    """A status schema: the known fields typed; the platform alone writes status, and a field a newer
    controller adds must not be pruned on the way to the cluster, so unknown fields are kept."""
    return {"description": f"The observed state of the {kind}, written only by the platform.", "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"observedGeneration": OBSERVED_GENERATION, **properties}}


def _open_object(description: str, **properties) -> dict:
    """An object inside a status: known fields typed, others kept (for the same reason as ``_status``)."""
    return {"description": description, "type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "properties": properties}


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
_MEMBERS = _described("Distinct users and groups bound to it.", COUNT)
_READY = {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}

#: The kinds that have a CRD (DESIGN §2) and a converter today, by (group, kind).
KINDS: dict[tuple[str, str], KindExtras] = {
    ("iam.theriseunion.io", "RoleTemplate"): KindExtras(None, (
        {"name": "Scope", "type": "string", "jsonPath": _label(_SCOPE)},
        {"name": "Category", "type": "string", "jsonPath": _label("iam.theriseunion.io/category")},
        AGE), ("iam",)),
    ("iam.theriseunion.io", "IAMRole"): KindExtras(_status("IAMRole", memberCount=_MEMBERS), (
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
        "User",
        state={"type": "string", "enum": ["Active", "Disabled"],
               "description": "Active users may log in; Disabled ones may not (honoured when written)."},
        reason=_described("Why the user is in this state.", STRING),
        lastLoginTime=_described("When the user last logged in.", DATE_TIME)), (
        {"name": "Email", "type": "string", "jsonPath": ".spec.email"},
        {"name": "State", "type": "string", "jsonPath": ".status.state"},
        AGE), ("iam",)),
    ("iam.theriseunion.io", "Category"): KindExtras(None, (
        {"name": "Icon", "type": "string", "jsonPath": ".spec.icon", "priority": 1},
        AGE), ("iam",)),
    ("scope.theriseunion.io", "Cluster"): KindExtras(_status(
        "Cluster", conditions=CONDITIONS,
        kubernetesVersion=_described("The Kubernetes version the cluster's API server reports.", STRING),
        nodeCount=_described("Nodes in the cluster.", COUNT),
        region=_described("The region the cluster's nodes are in.", STRING),
        zones=_described("The zones the cluster's nodes are in.", STRINGS)), (
        {"name": "Role", "type": "string", "jsonPath": _label("cluster.theriseunion.io/role")},
        {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
        {"name": "Version", "type": "string", "jsonPath": ".status.kubernetesVersion"},
        {"name": "Nodes", "type": "integer", "jsonPath": ".status.nodeCount"},
        _READY, AGE), ("scope",)),
    ("scope.theriseunion.io", "Workspace"): KindExtras(_status(
        "Workspace", phase=PHASE, conditions=CONDITIONS, memberCount=_MEMBERS,
        namespaceCount=_described("Namespaces in the workspace.", COUNT)), (
        {"name": "DisplayName", "type": "string", "jsonPath": ".spec.displayName"},
        {"name": "Manager", "type": "string", "jsonPath": ".spec.manager"},
        {"name": "Cluster", "type": "string", "jsonPath": _label(_CLUSTER)},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        AGE), ("scope",)),
    ("scope.theriseunion.io", "NodeGroup"): KindExtras(_status("NodeGroup", phase=PHASE, conditions=CONDITIONS), (
        {"name": "DisplayName", "type": "string", "jsonPath": ".spec.displayName"},
        {"name": "Cluster", "type": "string", "jsonPath": _label(_CLUSTER)},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        AGE), ("scope",)),
}

#: Kinds the API serves that have no CRD (a Group is the platform's own; namespaces and nodes are native objects
#: of member clusters): their status schemas, for the API's OpenAPI document. None: the kind has no status.
API_ONLY: dict[tuple[str, str], dict | None] = {
    ("iam.theriseunion.io", "Group"): _status("Group", memberCount=_described("Users in the group.", COUNT)),
    ("", "Namespace"): _open_object("The observed state of the Namespace, as its member cluster reports it."),
    ("", "Node"): _open_object("The observed state of the Node, as its member cluster reports it."),
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
    #: the spec schema of a kind that has no serializer (instead of a free-form spec)
    declared_spec: dict | None = None

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


_APP, _EXT, _IAM = "app.theriseunion.io", "ext.theriseunion.io", "iam.theriseunion.io"
_PHASE = {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}
_TOPOLOGY_STATUS = _open_object(
    "How one topology of spec.topologies is doing.",
    topology=_described("The topology this entry reports on, as spec.topologies holds it.", FREE_OBJECT),
    topologyIndex=_described("Its index in spec.topologies.", COUNT),
    workloadName=_described("The workload created for it on the member cluster.", STRING),
    replicas=_described("Replicas wanted.", COUNT), readyReplicas=_described("Replicas ready.", COUNT),
    nodes=_described("Nodes its pods run on.", STRINGS), phase=PHASE,
    message=_described("What is going on, for people.", STRING))
_HISTORY = _open_object(
    "One version change of the deployment.",
    toVersion=_described("The version deployed.", STRING),
    fromVersion=_described("The version it replaced (empty for the first install).", STRING),
    reason={"type": "string", "enum": ["Initial", "Upgrade", "Rollback"], "description": "Why it changed."},
    timestamp=_described("When it changed.", DATE_TIME),
    operator=_described("Who changed it.", STRING),
    message=_described("A note about the change.", STRING))
#: LoginRecord's spec as the reference declares it (REFERENCE-API); the platform has no serializer for it: it
#: records logins in its audit log, and the CRD lets a host cluster keep records written elsewhere.
LOGIN_RECORD_SPEC = {
    "type": "object", "required": ["type", "provider", "sourceIP", "success", "reason"],
    "properties": {
        "type": _described("How the user authenticated: Password, OAuth or Token.", STRING),
        "provider": _described("The identity provider that authenticated the user (local, LDAP, an OIDC "
                               "issuer, …).", STRING),
        "sourceIP": _described("The address the login came from.", STRING),
        "success": {"type": "boolean", "description": "Whether the login succeeded."},
        "reason": _described("Why the login failed (or how it succeeded).", STRING),
        "userAgent": _described("The client's User-Agent header.", STRING),
    },
}

#: The kinds of DESIGN §2 and REFERENCE-API that have a CRD but no converter: the app store and component kinds,
#: whose models, API and controllers arrive with the app store and components work (which then moves each entry
#: to ``KINDS``), and LoginRecord. Nothing syncs them.
DECLARED: tuple[CRDKind, ...] = (
    CRDKind(_APP, "Application", "applications", "Cluster", "appstore.manifests.ApplicationSpecSerializer",
            _status("Application", phase=PHASE, conditions=CONDITIONS,
                    latestVersion=_described("The newest approved version.", STRING),
                    versionCount=_described("ApplicationVersions of the application.", COUNT)), (
                {"name": "DisplayName", "type": "string", "jsonPath": _annotation("theriseunion.io/display-name")},
                {"name": "Provisioner", "type": "string", "jsonPath": _label("app.theriseunion.io/provisioner")},
                {"name": "Category", "type": "string", "jsonPath": _label("app.theriseunion.io/category")},
                {"name": "Workspace", "type": "string", "jsonPath": _label("theriseunion.io/workspace")},
                {"name": "Latest", "type": "string", "jsonPath": ".status.latestVersion"},
                AGE), categories=("app",)),
    CRDKind(_APP, "ApplicationVersion", "applicationversions", "Cluster",
            "appstore.manifests.ApplicationVersionSpecSerializer",
            _status("ApplicationVersion", phase=PHASE, conditions=CONDITIONS,
                    reviewPhase={"type": "string", "enum": ["Pending", "Approved", "Rejected"],
                                 "description": "Where the version is in review; only approved ones deploy."},
                    reviewer=_described("Who reviewed it.", STRING),
                    reviewTime=_described("When it was reviewed.", DATE_TIME),
                    reviewMessage=_described("The reviewer's note.", STRING),
                    submitter=_described("Who submitted it for review.", STRING),
                    submitTime=_described("When it was submitted.", DATE_TIME)), (
                {"name": "Application", "type": "string", "jsonPath": ".spec.applicationRef"},
                {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
                {"name": "Review", "type": "string", "jsonPath": ".status.reviewPhase"},
                {"name": "Reviewer", "type": "string", "jsonPath": ".status.reviewer", "priority": 1},
                _PHASE, AGE), categories=("app",)),
    CRDKind(_APP, "ApplicationDeployment", "applicationdeployments", "Namespaced",
            "appstore.manifests.ApplicationDeploymentSpecSerializer",
            _status("ApplicationDeployment",
                    applicationVersion=_described("The exact version spec.version resolved to.", STRING),
                    phase=PHASE, message=_described("What is going on, for people.", STRING),
                    conditions=CONDITIONS,
                    readyStatus=_described('Ready replicas over wanted ones ("ready/total").', STRING),
                    readyReplicas=_described("Replicas ready over every topology.", COUNT),
                    totalReplicas=_described("Replicas wanted over every topology.", COUNT),
                    topologyStatuses={"type": "array", "items": _TOPOLOGY_STATUS,
                                      "description": "One entry per topology of spec.topologies."},
                    history={"type": "array", "maxItems": 10, "items": _HISTORY,
                             "description": "The last ten version changes, newest last."}), (
                {"name": "Application", "type": "string", "jsonPath": ".spec.application"},
                {"name": "Version", "type": "string", "jsonPath": ".status.applicationVersion"},
                {"name": "Ready", "type": "string", "jsonPath": ".status.readyStatus"},
                _PHASE, AGE), short_names=("appd",), categories=("app",)),
    CRDKind(_EXT, "Component", "components", "Namespaced", "components.manifests.ComponentSpecSerializer",
            _status("Component", phase=PHASE, message=_described("What is going on, for people.", STRING),
                    conditions=CONDITIONS,
                    observedHash=_described("The hash of the spec last installed (same hash, healthy release: "
                                            "nothing to do).", STRING),
                    releaseName=_described("The Helm release installed.", STRING),
                    releaseVersion=_described("The Helm release's revision.", COUNT),
                    retryCount=_described("Failed attempts since the last success.", COUNT),
                    lastFailureTime=_described("When the last attempt failed.", DATE_TIME)), (
                {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
                {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
                _PHASE,
                {"name": "Release", "type": "string", "jsonPath": ".status.releaseName", "priority": 1},
                AGE), short_names=("comp",), categories=("ext",)),
    CRDKind(_IAM, "LoginRecord", "loginrecords", "Cluster", None,
            {"type": "object", "description": "LoginRecords have no observed state (the reference declares an "
                                              "empty status)."}, (
                {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
                {"name": "Provider", "type": "string", "jsonPath": ".spec.provider"},
                {"name": "From", "type": "string", "jsonPath": ".spec.sourceIP"},
                {"name": "Success", "type": "string", "jsonPath": ".spec.success"},
                {"name": "Reason", "type": "string", "jsonPath": ".spec.reason"},
                AGE), categories=("iam",), declared_spec=LOGIN_RECORD_SPEC),
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

CRD, API = "crd", "api"  # what a schema is for: a CRD, or the API's OpenAPI document (which shows write-only fields)


def _dotted(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def schema_of_field(drf_field, target: str = CRD) -> dict:
    """The structural OpenAPI v3 schema of one DRF field or serializer (``target``: ``"crd"`` or ``"api"``)."""
    for cls in type(drf_field).__mro__:
        if _dotted(cls) in FIELD_SCHEMAS:
            return dict(FIELD_SCHEMAS[_dotted(cls)])
    if isinstance(drf_field, serializers.ListSerializer):
        return {"type": "array", "items": schema_of_field(drf_field.child, target)}
    if isinstance(drf_field, serializers.Serializer):
        return _object_schema(drf_field, target)
    if isinstance(drf_field, serializers.DictField) and isinstance(drf_field.child, serializers.JSONField):
        return dict(FREE_OBJECT)  # an object with any content
    if isinstance(drf_field, LabelSelectorField):
        return dict(LABEL_SELECTOR)
    if isinstance(drf_field, serializers.JSONField):
        return dict(ANY_JSON)
    if isinstance(drf_field, serializers.ListField):
        return {"type": "array", "items": schema_of_field(drf_field.child, target)}
    if isinstance(drf_field, serializers.DictField):
        return {"type": "object", "additionalProperties": schema_of_field(drf_field.child, target)}
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


def _object_schema(serializer, target: str = CRD) -> dict:
    """An object's schema. An object without declared fields has no ``properties`` at all: the API server drops
    an empty ``properties``, and the CRD must be what it stores."""
    properties, required = {}, []
    for name, drf_field in serializer.fields.items():
        if drf_field.read_only:
            continue
        if target == CRD and _plain_text_secret(name, drf_field):
            continue
        schema = schema_of_field(drf_field, target)
        if drf_field.help_text:
            schema = {"description": str(drf_field.help_text), **schema}
        if _plain_default(drf_field):
            schema["default"] = drf_field.default  # the API server fills it in, as the API does
        if target == API and drf_field.write_only:
            schema["writeOnly"] = True  # accepted, never shown
        properties[name] = schema
        if drf_field.required:
            required.append(name)
    out: dict = {"type": "object"}
    if properties:
        out["properties"] = properties
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


def spec_schema(kind: CRDKind | Converter, target: str = CRD) -> dict:
    """The spec schema of a kind: from its spec serializer, or declared, or free-form when it has neither."""
    if isinstance(kind, Converter):
        kind = CRDKind.of(kind) if (kind.group, kind.kind) in KINDS else CRDKind(
            kind.group, kind.kind, kind.plural, "Cluster", kind.spec_serializer, None)
    serializer = kind.serializer()
    if serializer is not None:
        schema = schema_of_field(serializer, target)
    else:
        schema = dict(kind.declared_spec or FREE_OBJECT)
    return {"description": f"The desired state of the {kind.kind}, written by its users.", **schema}


def kind_schemas(converter: Converter, target: str = API) -> tuple[dict, dict | None]:
    """(spec, status) schemas of a kind the API serves, CRD or not: what its manifests carry (status None: the
    kind has no status). The CRDs carry the same ones (``target="crd"`` leaves write-only secrets out)."""
    key = (converter.group, converter.kind)
    status = KINDS[key].status if key in KINDS else API_ONLY.get(key, _open_object(
        f"The observed state of the {converter.kind}, written only by the platform."))
    return spec_schema(converter, target), status


# --- the CRD ----------------------------------------------------------------------------------------------------

def _description(kind: CRDKind) -> str:
    if kind.synced:
        return (f"{kind.kind} of the Edge Platform: kept in step with the platform's database, where changes made "
                "here are brought back.")
    return f"{kind.kind} of the Edge Platform."


_CONVENTIONS = "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"


def _envelope(kind: CRDKind) -> dict:
    """``apiVersion``, ``kind`` and ``metadata``, described as Kubernetes describes them."""
    return {
        "apiVersion": _described(f"The versioned schema of this representation of an object: "
                                 f"{kind.group}/{kind.version}. More info: {_CONVENTIONS}#resources", STRING),
        "kind": _described(f"The REST resource this object represents: {kind.kind}. More info: "
                           f"{_CONVENTIONS}#types-kinds", STRING),
        "metadata": _described(f"Standard object metadata: name, labels, annotations. More info: "
                               f"{_CONVENTIONS}#metadata", {"type": "object"}),
    }


def crd_for(kind: CRDKind | Converter) -> dict:
    """The CustomResourceDefinition of one kind (a description, or a converter of a kind in ``KINDS``)."""
    if isinstance(kind, Converter):
        kind = CRDKind.of(kind)
    properties = {**_envelope(kind), "spec": spec_schema(kind)}
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
