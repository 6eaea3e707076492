"""OpenAPI v3 schemas of the manifests: the building blocks kinds declare their status with, and the spec schema
generated from a kind's DRF spec serializer.

One source for two documents: a kind's CRD (``edgeplatform.kube.crds``) and the API's OpenAPI document
(``edgeplatform.resources.openapi``) carry the same spec and status schemas (``kind_schemas``). The spec schema is
generated from the serializer that validates API input, so the CRD accepts exactly the manifests the API
produces; every field carries a ``description`` (the serializer field's ``help_text``), so ``kubectl explain``
documents it. A field whose serializer is free-form JSON with a known shape says so with an ``openapi_schema``
attribute (``RulesField`` holds PolicyRules). The schemas are structural, as kube-apiserver wants CRD schemas.

Kinds declare their status with the shapes here (``observed_state``, ``CONDITIONS``, ``COUNT``, …), so that what
every kind shares is spelled once.
"""
from __future__ import annotations

from django.core.validators import MaxLengthValidator, RegexValidator
from rest_framework import serializers

__all__ = [
    "ANY_JSON",
    "API",
    "CONDITIONS",
    "COUNT",
    "CRD",
    "DATE_TIME",
    "FREE_OBJECT",
    "LABEL_SELECTOR",
    "MEMBER_COUNT",
    "OBSERVED_GENERATION",
    "PHASE",
    "POLICY_RULE",
    "RECONCILE_PROGRESS",
    "STRING",
    "STRINGS",
    "STRING_MAP",
    "described",
    "observed_state",
    "open_object",
    "reconciled_state",
    "schema_of_field",
    "spec_schema",
]

CRD, API = "crd", "api"  # what a schema is for: a CRD, or the API's OpenAPI document (which shows write-only fields)

# --- shapes shared by several kinds ---------------------------------------------------------------------------

def described(description: str, schema: dict) -> dict:
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
        "apiGroups": described('API groups of the resources; "" is the core group, "*" any group.', STRINGS),
        "resources": described('Resources (plurals such as "pods", "clusters"; "*" any resource).', STRINGS),
        "resourceNames": described("Names of the objects the rule is limited to (empty: every object).",
                                    STRINGS),
        "nonResourceURLs": described('URL paths that are not resources ("/healthz", "/metrics/*"); their verbs '
                                      "are HTTP methods.", STRINGS),
        "verbs": described('Verbs allowed: get, list, watch, create, update, patch, delete, deletecollection, '
                            '"*".', STRINGS),
    },
}
LABEL_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": described("Labels an object must carry with exactly these values.", STRING_MAP),
        "matchExpressions": {"type": "array", "description": "Requirements an object's labels must all meet.",
                             "items": {
            "type": "object", "required": ["key", "operator"],
            "properties": {"key": described("The label key.", STRING),
                           "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"],
                                        "description": "How the key's value is compared with values."},
                           "values": described("Values for In and NotIn; empty for Exists and DoesNotExist.",
                                                STRINGS)}}},
    },
}
CONDITIONS = {"type": "array", "description": "Kubernetes conditions; Ready is always present on reconciled kinds.",
              "items": {
    "type": "object", "required": ["type", "status"],
    "properties": {
        "type": described("The condition's type (Ready, …).", STRING),
        "status": {"type": "string", "enum": ["True", "False", "Unknown"],
                   "description": "Whether the condition holds."},
        "reason": described("A CamelCase word saying why the condition last changed.", STRING),
        "message": described("A sentence for people about the last change.", STRING),
        "lastTransitionTime": {"type": "string", "format": "date-time",
                               "description": "When the status last changed."},
        "observedGeneration": {"type": "integer", "format": "int64",
                               "description": "The metadata.generation this condition was set for."},
    }}}
COUNT = {"type": "integer", "format": "int32", "minimum": 0}
DATE_TIME = {"type": "string", "format": "date-time"}
PHASE = described("Where the object is in its lifecycle.", STRING)
MEMBER_COUNT = described("Distinct users and groups bound to it.", COUNT)
OBSERVED_GENERATION = {"type": "integer", "format": "int64",
                       "description": "The metadata.generation (spec) this status describes."}


def observed_state(kind: str, **properties) -> dict:
    """A status schema: the known fields typed; the platform alone writes status, and a field a newer
    controller adds must not be pruned on the way to the cluster, so unknown fields are kept."""
    return {"description": f"The observed state of the {kind}, written only by the platform.", "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"observedGeneration": OBSERVED_GENERATION, **properties}}


#: what the controller base (edgeplatform.controllers.status) writes beside the kind's own fields
RECONCILE_PROGRESS = {
    "step": described("The reconcile step reached: the one that is failing while it is retried.", STRING),
    "reason": described("A CamelCase word saying why the object is where it is.", STRING),
    "message": described("What is going on, for people.", STRING),
    "retryCount": described("Attempts that failed since the last success.", COUNT),
    "nextRetryTime": described("When the failing step will be tried again.", DATE_TIME),
    "lastFailureTime": described("When a step last failed.", DATE_TIME),
    "conditions": CONDITIONS,
}


def reconciled_state(kind: str, **properties) -> dict:
    """The status schema of a kind a controller reconciles: its own fields and the base's progress fields."""
    return observed_state(kind, **RECONCILE_PROGRESS, **properties)


def open_object(description: str, **properties) -> dict:
    """An object inside a status: known fields typed, others kept (for the same reason as ``observed_state``)."""
    return {"description": description, "type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "properties": properties}


# --- DRF serializer → OpenAPI v3 (structural) -----------------------------------------------------------------

def schema_of_field(drf_field, target: str = CRD) -> dict:
    """The structural OpenAPI v3 schema of one DRF field or serializer (``target``: ``"crd"`` or ``"api"``)."""
    declared = getattr(drf_field, "openapi_schema", None)
    if declared is not None:  # a JSON field with a known shape says which
        return dict(declared)
    if isinstance(drf_field, serializers.ListSerializer):
        return {"type": "array", "items": schema_of_field(drf_field.child, target)}
    if isinstance(drf_field, serializers.Serializer):
        return _object_schema(drf_field, target)
    if isinstance(drf_field, serializers.DictField) and isinstance(drf_field.child, serializers.JSONField):
        return dict(FREE_OBJECT)  # an object with any content
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
    raise TypeError(f"no OpenAPI schema for {type(drf_field).__name__}; give the field an openapi_schema")


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


def spec_schema(kind, target: str = CRD) -> dict:
    """The spec schema of a kind (a ``KindInfo``): from its spec serializer, or declared, or free-form when it has
    neither."""
    serializer = kind.serializer()
    if serializer is not None:
        schema = schema_of_field(serializer, target)
    else:
        schema = dict(kind.declared_spec or FREE_OBJECT)
    return {"description": f"The desired state of the {kind.kind}, written by its users.", **schema}

