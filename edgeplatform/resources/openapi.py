"""The OpenAPI document of the API (``/oapis/schema/``): typed manifests, every status code, both logins.

Every kind's operations are described by ``ManifestSchema`` (the schema class ``api.manifest_viewset`` gives each
viewset): the request and response bodies are the kind's manifest — ``apiVersion``, ``kind``, ``metadata`` and the
very spec and status schemas its CRD carries (``edgeplatform.resources.kinds.kind_schemas``: one generator for both) —
a ``<Kind>List`` for lists and a Kubernetes ``Status`` for every error and for a delete's success. Operation ids
are Kubernetes' (``listScopeTheriseunionIoV1alpha1Cluster``), so they are unique and familiar to client
generators. The other views describe themselves with ``extend_schema`` and the helpers here
(``status_responses``, ``oauth_error_responses``).

Bearer tokens and the session cookie are the two security schemes (the bearer one is described beside the
views that issue its tokens, ``iam.api.auth.BearerTokenScheme``; drf-spectacular knows the session one).
``add_shared_components`` (a postprocessing hook, ``SPECTACULAR_SETTINGS``) adds the schemas every operation
refers to: ``Status``, ``OAuthError``, ``ObjectMeta`` and ``ListMeta``.
"""
from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from edgeplatform.resources.converters import Converter
from edgeplatform.resources.kinds import kind_schemas

__all__ = ["COMMON_CODES", "LIST_META", "OAUTH_ERROR", "OBJECT_META", "STATUS", "ManifestSchema",
           "add_shared_components", "body_types", "manifest_schema", "oauth_error_responses", "operation_id", "ref",
           "status_responses"]


def ref(name: str) -> dict:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


# --- shared components ------------------------------------------------------------------------------------------

STATUS = {
    "type": "object",
    "description": "A Kubernetes meta/v1 Status: the body of every error under /oapis/ (its details.causes name "
                   "the offending fields) and of a successful delete.",
    "required": ["kind", "apiVersion", "status", "code"],
    "properties": {
        "kind": {"type": "string", "enum": ["Status"]},
        "apiVersion": {"type": "string", "enum": ["v1"]},
        "metadata": {"type": "object"},
        "status": {"type": "string", "enum": ["Success", "Failure"]},
        "message": {"type": "string", "description": "What happened, for people."},
        "reason": {"type": "string", "description": "A CamelCase reason (NotFound, Invalid, Conflict, …); empty "
                                                    "on success."},
        "code": {"type": "integer", "description": "The HTTP status code."},
        "details": {"type": "object", "description": "The object the status is about, and the causes.",
                    "properties": {
                        "name": {"type": "string"}, "group": {"type": "string"}, "kind": {"type": "string"},
                        "uid": {"type": "string"},
                        "retryAfterSeconds": {"type": "integer"},
                        "causes": {"type": "array", "items": {
                            "type": "object",
                            "properties": {
                                "reason": {"type": "string", "description": "FieldValueInvalid, "
                                                                           "FieldValueRequired, …"},
                                "message": {"type": "string"},
                                "field": {"type": "string", "description": "The field at fault, as a path "
                                                                          "(spec.rules[0].verbs)."}}}}}},
    },
}
#: RFC 6749 §5.2 and §4.1.2.1, RFC 7009 §2.2.1
OAUTH_ERROR_CODES = ["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                     "unsupported_grant_type", "invalid_scope", "access_denied", "server_error",
                     "temporarily_unavailable", "unsupported_token_type"]
OAUTH_ERROR = {
    "type": "object",
    "description": "An OAuth 2.0 error response (RFC 6749 §5.2).",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "enum": OAUTH_ERROR_CODES},
        "error_description": {"type": "string", "description": "What went wrong, for people."},
    },
}
OBJECT_META = {
    "type": "object",
    "description": "Standard object metadata. The platform sets uid, resourceVersion, generation and "
                   "creationTimestamp; a write carrying a stale resourceVersion is refused with 409.",
    "properties": {
        "name": {"type": "string", "description": "The object's name (a DNS-1123 name, unique per kind; under "
                                                  "clusters/<cluster>/, per cluster)."},
        "labels": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "Labels; the scope of roles and bindings lives in iam.theriseunion.io/scope and "
                                  "iam.theriseunion.io/scope-value."},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "uid": {"type": "string", "readOnly": True},
        "resourceVersion": {"type": "string", "description": "Changes with every write; give it back to write "
                                                             "only over that version."},
        "generation": {"type": "integer", "format": "int64", "readOnly": True,
                       "description": "Bumped on every change of the spec."},
        "creationTimestamp": {"type": "string", "format": "date-time", "readOnly": True},
        "namespace": {"type": "string", "description": "The namespace of an object of a namespaced kind (a "
                                                       "Component's names its cluster)."},
        "deletionTimestamp": {"type": "string", "format": "date-time", "readOnly": True,
                              "description": "When a delete was asked for; a finalizer holds the object until the "
                                             "platform has done what must come first."},
    },
}
LIST_META = {
    "type": "object",
    "properties": {
        "resourceVersion": {"type": "string"},
        "continue": {"type": "string", "description": "Pass as ?continue= to read the next page; absent on the "
                                                      "last page."},
        "remainingItemCount": {"type": "integer", "format": "int64", "description": "Items after this page."},
    },
}
SHARED = {"Status": STATUS, "OAuthError": OAUTH_ERROR, "ObjectMeta": OBJECT_META, "ListMeta": LIST_META}


def add_shared_components(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the components every operation may refer to."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in SHARED.items():
        schemas.setdefault(name, schema)
    return result


# --- status codes -----------------------------------------------------------------------------------------------

DESCRIPTIONS = {
    200: "OK", 201: "Created",
    400: "BadRequest: the body does not decode (JSON or YAML, size, depth, duplicate keys, encoding) or a query "
         "parameter is malformed",
    401: "Unauthorized: no credentials, or a token that is invalid, expired, revoked or of a disabled user",
    403: "Forbidden: the caller may see the object but not do this (or a session write without its CSRF token)",
    404: "NotFound: no such object, or one the caller may not see (answered alike)",
    406: "NotAcceptable: the Accept header asks for a type the API does not answer with",
    409: "Conflict: the name is taken (AlreadyExists) or the resourceVersion is stale",
    413: "RequestEntityTooLarge: the body is larger than EDGE_API_MAX_BODY",
    415: "UnsupportedMediaType: the Content-Type is not one this operation reads",
    422: "Invalid: the manifest breaks a rule; details.causes name each field",
    429: "TooManyRequests: the account is locked after repeated failed logins (Retry-After says for how long)",
    500: "InternalError: a fault of the server, logged; the body never holds a stack trace",
}
#: what every operation under /oapis/ may answer (each needs a login)
COMMON_CODES = (401, 406, 500)
#: what every operation with a body may answer besides
BODY_CODES = (400, 413, 415)


def status_responses(*codes: int, body: bool = False) -> dict[int, OpenApiResponse]:
    """Status responses for ``codes``, plus those every operation under /oapis/ answers (``COMMON_CODES``) and,
    with ``body``, those of reading a body (``BODY_CODES``) and 403 (a session write needs its CSRF token)."""
    wanted = {*codes, *COMMON_CODES, *((*BODY_CODES, 403) if body else ())}
    return {code: OpenApiResponse(ref("Status"), description=DESCRIPTIONS[code]) for code in sorted(wanted)}


def oauth_error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """RFC 6749 error responses of an OAuth endpoint: ``codes`` plus 400, 413, 415 and 500, which any body can
    earn."""
    descriptions = {400: "invalid_request, invalid_grant or unsupported_grant_type",
                    401: "invalid_client: the client failed to authenticate",
                    413: "invalid_request: the body is larger than EDGE_API_MAX_BODY",
                    415: "invalid_request: the Content-Type is not a form or JSON",
                    429: "invalid_grant: the account is locked after repeated failed logins (Retry-After)",
                    500: "server_error: a fault of the server, logged"}
    wanted = sorted({*codes, 400, 413, 415, 500})
    return {code: OpenApiResponse(ref("OAuthError"), description=descriptions[code]) for code in wanted}


# --- the manifests of a kind ------------------------------------------------------------------------------------

def list_of(kind: str, api_version: str, fields: dict):
    """The schema of a ``<Kind>List`` answer (apiVersion, kind, metadata, items) for a view that is no manifest
    kind, its items having ``fields``."""
    return inline_serializer(f"{kind}List", {
        "apiVersion": serializers.ChoiceField(choices=[api_version]),
        "kind": serializers.ChoiceField(choices=[f"{kind}List"]),
        "metadata": serializers.DictField(),
        "items": inline_serializer(kind, fields, many=True)})


def _camel(group: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in (group or "core").replace("-", ".").split("."))


def operation_id(verb: str, converter: Converter) -> str:
    """Kubernetes' operation id: ``<verb><Group><Version><Kind>`` (``readScopeTheriseunionIoV1alpha1Cluster``)."""
    return f"{verb}{_camel(converter.group)}{converter.version[:1].upper()}{converter.version[1:]}{converter.kind}"


def manifest_schema(converter: Converter) -> dict:
    """The schema of one manifest of the kind: its spec and status are those of its CRD (write-only fields such
    as ``spec.password`` shown, marked ``writeOnly``)."""
    spec, status = kind_schemas(converter)
    properties = {
        "apiVersion": {"type": "string", "enum": [converter.api_version]},
        "kind": {"type": "string", "enum": [converter.kind]},
        "metadata": ref("ObjectMeta"),
        "spec": spec,
    }
    if status is not None:
        properties["status"] = status
    return {"type": "object", "description": f"A {converter.kind} manifest.", "properties": properties}


def list_schema(converter: Converter) -> dict:
    """The schema of a ``<Kind>List``."""
    return {"type": "object", "description": f"A page of {converter.kind} manifests.",
            "required": ["apiVersion", "kind", "metadata", "items"],
            "properties": {"apiVersion": {"type": "string", "enum": [converter.api_version]},
                           "kind": {"type": "string", "enum": [f"{converter.kind}List"]},
                           "metadata": ref("ListMeta"),
                           "items": {"type": "array", "items": ref(converter.kind)}}}


def patch_schema(schema: dict, root: bool = True) -> dict:
    """A merge patch of ``schema`` (RFC 7386): the same fields, none required, any of them but the patch itself
    null (null removes a field, or a key of a map); lists are replaced whole, so their items keep their schema."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return patch_schema(SHARED[name], root) if name in SHARED else schema
    out = {key: value for key, value in schema.items() if key not in ("required", "default")}
    if root:
        out["description"] = ("A merge patch (RFC 7386): the fields given replace the object's, null removes a "
                              "field, lists are replaced whole.")
        return {**out, "properties": {name: patch_schema(child, False)
                                      for name, child in (schema.get("properties") or {}).items()}}
    out["nullable"] = True
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {name: patch_schema(child, False) for name, child in schema["properties"].items()}
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = patch_schema(schema["additionalProperties"], False)
    return out


#: body media types by method: what the parsers read (a PATCH is a merge, strategic-merge or apply patch; a JSON
#: one counts as a merge patch)
BODY_TYPES = {
    "POST": ("application/json", "application/yaml", "application/x-yaml"),
    "PUT": ("application/json", "application/yaml", "application/x-yaml"),
    "PATCH": ("application/merge-patch+json", "application/strategic-merge-patch+json",
              "application/apply-patch+yaml", "application/json"),
}


def body_types(schema, method: str = "POST") -> dict:
    """A request body of ``schema`` (a serializer or a schema) in every media type ``method`` reads."""
    return {media_type: schema for media_type in BODY_TYPES[method]}


#: per viewset action: (Kubernetes verb, success code, error codes beyond COMMON_CODES)
ACTIONS = {
    "list": ("list", 200, (400,)),
    "retrieve": ("read", 200, (404,)),
    "create": ("create", 201, (403, 409, 422)),
    "update": ("replace", 200, (403, 404, 409, 422)),
    "partial_update": ("patch", 200, (403, 404, 409, 422)),
    "destroy": ("delete", 200, (403, 404)),
}
SUMMARIES = {"list": "List {kind} objects", "retrieve": "Read a {kind}", "create": "Create a {kind}",
             "update": "Replace a {kind}", "partial_update": "Patch a {kind}", "destroy": "Delete a {kind}"}


class ManifestSchema(AutoSchema):
    """The OpenAPI description of a kind's viewset (``api.ManifestViewSet``), from its converter."""

    def __init__(self, list_parameters: list[OpenApiParameter] | None = None):
        super().__init__()
        self.list_parameters = list(list_parameters or [])

    @property
    def converter(self) -> Converter:
        """The kind's converter."""
        return self.view.converter

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        """Register the kind's components, then describe the operation; POST and PUT need a body."""
        kind, manifest = self.converter.kind, manifest_schema(self.converter)
        for name, schema in ((kind, manifest), (f"{kind}List", list_schema(self.converter)),
                             (f"{kind}Patch", patch_schema(manifest))):
            registry.register_on_missing(ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA,
                                                           object=(self.converter.group, name), schema=schema))
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation and "requestBody" in operation and self.method in ("POST", "PUT"):
            operation["requestBody"]["required"] = True
        return operation

    def _is_list_view(self, serializer=None) -> bool:
        """Never: a list answers one ``<Kind>List`` object, which drf-spectacular must not wrap in an array."""
        return False

    def get_operation_id(self) -> str:
        """Kubernetes' operation id for the action (``…Namespaced<Kind>`` in a namespace, ``…<Kind>ForAllNamespaces``
        for the list across them)."""
        verb = ACTIONS[self.view.action][0]
        if not self.converter.namespaced:
            return operation_id(verb, self.converter)
        if "{namespace}" in self.path:
            return operation_id(verb, self.converter).replace(self.converter.kind, f"Namespaced{self.converter.kind}")
        return operation_id(verb, self.converter) + "ForAllNamespaces"

    def get_tags(self) -> list[str]:
        """One tag per kind: ``<group>/<plural>``."""
        return [f"{self.converter.group or 'core'}/{self.converter.plural}"]

    def get_summary(self) -> str:
        """What the operation does, in a few words."""
        return SUMMARIES[self.view.action].format(kind=self.converter.kind)

    def get_override_parameters(self) -> list:
        """``labelSelector``, ``limit`` and ``continue`` on lists."""
        return self.list_parameters if self.view.action == "list" else []

    def get_request_serializer(self):
        """The manifest (a merge patch of it for PATCH), in every media type the method reads."""
        schema = ref(f"{self.converter.kind}Patch" if self.method == "PATCH" else self.converter.kind)
        return body_types(schema, self.method) if self.method in BODY_TYPES else None

    def get_response_serializers(self):
        """The success body (a manifest, a list, or delete's Status) and a Status for every error."""
        action = self.view.action
        _, success, codes = ACTIONS[action]
        if self.converter.cluster_child or "{namespace}" in self.path:
            codes = (*codes, 404)  # the URL's cluster does not exist, or is hidden; the namespace is no name
        if action == "destroy" and self.converter.crd_finalizer:
            codes = (*codes, 409)  # others still need the object
        body = {"list": ref(f"{self.converter.kind}List"), "destroy": ref("Status")}.get(action,
                                                                                         ref(self.converter.kind))
        responses: dict = {success: OpenApiResponse(body, description=DESCRIPTIONS[success])}
        if action == "destroy" and self.converter.crd_finalizer:
            responses[202] = OpenApiResponse(ref(self.converter.kind), description="Accepted: a finalizer holds the "
                                             "object, now carrying its deletionTimestamp, until the platform has "
                                             "done what must come first")
        if action == "partial_update":  # an apply patch creates the object when it is missing
            responses[201] = OpenApiResponse(ref(self.converter.kind), description="Created (an apply patch of an "
                                                                                   "object that did not exist)")
        responses.update(status_responses(*codes, body=self.method in BODY_TYPES))
        return responses
