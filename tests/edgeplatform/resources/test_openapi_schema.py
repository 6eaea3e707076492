"""The OpenAPI document at /oapis/schema/: every operation with its status codes and their bodies, both logins,
unique operation ids, the manifests typed with the CRDs' own spec and status schemas, the media types the API
reads, the list parameters' formats — and real answers of the API validate against it."""
from __future__ import annotations

import functools
import json
import re

import jsonschema
import pytest
import yaml
from django.test import Client, override_settings
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from edgeplatform.kube import crds
from edgeplatform.resources.converters import registered
from tests.edgeplatform.kube.test_crd_schemas import rich_manifests

SCHEMA_URL = "/oapis/schema/?format=json"
API = "/oapis/"
PATCH_TYPES = {"application/merge-patch+json", "application/strategic-merge-patch+json",
               "application/apply-patch+yaml", "application/json"}
WRITE_TYPES = {"application/json", "application/yaml", "application/x-yaml"}


@functools.cache
def document() -> dict:
    """The generated document (as JSON would carry it), and whatever the generator warned about."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    warnings = dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
    return {"schema": json.loads(json.dumps(schema, default=str)), "warnings": warnings}


def operations():
    """(path, method, operation) for every operation."""
    for path, item in document()["schema"]["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def manifest_converters():
    """The converters the API serves as manifest kinds, one per kind."""
    return {c.kind: c for c in registered() if c.group.endswith("theriseunion.io") or c.cluster_child}


# --- validating answers against the document ---------------------------------------------------------------------

def json_schema(node, components: dict, seen: tuple = ()):
    """An OpenAPI 3.0 schema as a JSON Schema: references inlined, ``nullable`` spelled as a null alternative."""
    if isinstance(node, list):
        return [json_schema(item, components, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        assert name not in seen, f"recursive schema {name}"
        return json_schema(components[name], components, (*seen, name))
    out = {key: json_schema(value, components, seen) if key in ("items", "additionalProperties", "not")
           else value for key, value in node.items() if key != "nullable"}
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            out[key] = json_schema(node[key], components, seen)
    if isinstance(node.get("properties"), dict):
        out["properties"] = {name: json_schema(child, components, seen)
                             for name, child in node["properties"].items()}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def template_of(url: str, method: str) -> str:
    """The document's path template that ``url`` (without its query) matches."""
    path = url.split("?")[0]
    path = path if path.endswith("/") or path.startswith("/oauth/") else path + "/"
    for template, item in document()["schema"]["paths"].items():
        pattern = "^" + re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template
    raise AssertionError(f"{method} {url} is not in the document")


def check_against_document(method: str, url: str, response) -> None:
    """The answer's status code is documented for the operation, its media type too, and its body validates."""
    schema = document()["schema"]
    operation = schema["paths"][template_of(url, method)][method.lower()]
    code = str(response.status_code)
    assert code in operation["responses"], f"{method} {url}: {code} is not documented"
    documented = operation["responses"][code]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if not body:
        assert "content" not in documented, f"{method} {url} {code}: the documented body is missing"
        return
    media_type = response["Content-Type"].split(";")[0]
    assert media_type in documented.get("content", {}), f"{method} {url} {code}: {media_type} is not documented"
    body_schema = json_schema(documented["content"][media_type]["schema"], schema["components"]["schemas"])
    instance = body.decode() if body_schema.get("type") == "string" else json.loads(body)
    jsonschema.validate(instance, body_schema, format_checker=jsonschema.FormatChecker())


class Checked:
    """A client whose every answer is checked against the document."""

    def __init__(self, client: Client, headers: dict | None = None):
        self.client, self.headers = client, headers or {}

    def send(self, method: str, url: str, body=None, content_type: str = "application/json", **headers):
        """Send, check, return the response."""
        kwargs = {**self.headers, **headers}
        if body is not None:
            kwargs["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
            kwargs["content_type"] = content_type
        response = getattr(self.client, method.lower())(url, **kwargs)
        check_against_document(method, url, response)
        return response


@pytest.fixture
def admin_client(platform, api):
    """A superuser's client, every answer checked."""
    return Checked(Client(), api(platform.user("schema-admin", superuser=True)).headers)


# --- the document --------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_document_is_served_valid_and_generated_without_a_warning(client):
    response = client.get(SCHEMA_URL)
    assert response.status_code == 200
    served = response.json()
    assert served["openapi"].startswith("3.")
    validate_schema(served)
    assert document()["warnings"] == {}
    assert served["paths"].keys() == document()["schema"]["paths"].keys()


def test_operation_ids_are_unique_and_kubernetes_shaped():
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids)) >= 77
    shape = re.compile(r"(list|read|create|replace|patch|delete)[A-Z][A-Za-z0-9]+")
    for path, method, operation in operations():
        if path.startswith(API):
            assert shape.fullmatch(operation["operationId"]), (method, path)
    assert {"listScopeTheriseunionIoV1alpha1Cluster", "patchIamTheriseunionIoV1alpha1IAMRole",
            "deleteCoreV1Namespace", "createIamTheriseunionIoV1alpha1SubjectAccessReview", "oauthToken",
            "oauthRevoke"} <= set(ids)


def _ref(content: dict) -> str:
    return content["schema"].get("$ref", "").rsplit("/", 1)[-1]


def test_every_error_is_documented_with_its_body():
    """Every operation under /oapis/ documents 401, 406 and 500; those reading a body 400, 403 (CSRF), 413 and
    415; every error body (and delete's success) is a Status. Under /oauth/ errors are OAuth error objects."""
    for path, method, operation in operations():
        responses, what = operation["responses"], f"{method} {path}"
        codes = {int(code) for code in responses}
        body = "requestBody" in operation
        if path.startswith(API):
            assert {401, 406, 500} <= codes, what
            if body:
                assert {400, 403, 413, 415} <= codes, what
            error_body = "Status"
        else:
            assert {400, 413, 415, 500} <= codes, what
            error_body = "OAuthError"
        for code, response in responses.items():
            assert response["description"], (what, code)
            if int(code) >= 400:
                assert response["content"], (what, code)
                assert {_ref(c) for c in response["content"].values()} == {error_body}, (what, code)
            elif method == "DELETE" and code == "202":  # held by a finalizer: the object, being deleted
                kinds = {_ref(c) for c in response["content"].values()}
                assert len(kinds) == 1 and kinds != {"Status"} and operation["operationId"].endswith(*kinds), what
            elif method == "DELETE":
                assert {_ref(c) for c in response["content"].values()} == {"Status"}, what


def test_each_kinds_operations_answer_its_manifest_list_and_statuses():
    paths = document()["schema"]["paths"]
    collection, item = "/oapis/scope.theriseunion.io/v1alpha1/clusters/", \
        "/oapis/scope.theriseunion.io/v1alpha1/clusters/{name}/"
    expected = {("get", collection): ({200, 400}, "ClusterList"), ("post", collection): ({201, 409, 422}, "Cluster"),
                ("get", item): ({200, 404}, "Cluster"), ("put", item): ({200, 404, 409, 422}, "Cluster"),
                ("patch", item): ({200, 201, 404, 409, 422}, "Cluster"), ("delete", item): ({200, 403, 404}, "Status")}
    for (method, path), (codes, success) in expected.items():
        responses = paths[path][method]["responses"]
        assert codes <= {int(code) for code in responses}, (method, path)
        ok = responses["201" if method == "post" else "200"]
        assert {_ref(c) for c in ok["content"].values()} == {success}, (method, path)
    native = paths["/oapis/scope.theriseunion.io/v1alpha1/clusters/{cluster}/namespaces/"]["get"]["responses"]
    assert "404" in native  # the URL's cluster may not exist


def test_bearer_and_session_logins_are_declared_and_required():
    schema = document()["schema"]
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": schema["components"]["securitySchemes"]["bearerAuth"][
            "description"]}
    assert schema["components"]["securitySchemes"]["cookieAuth"] == {"type": "apiKey", "in": "cookie",
                                                                     "name": "sessionid"}
    for path, method, operation in operations():
        if path.startswith(API):
            assert operation["security"] == [{"bearerAuth": []}, {"cookieAuth": []}], (method, path)
        else:
            assert operation.get("security", [{}]) == [{}], (method, path)


def test_request_bodies_come_in_the_media_types_the_api_reads():
    for path, method, operation in operations():
        if not path.startswith(API) or "requestBody" not in operation:
            continue
        content = operation["requestBody"]["content"]
        assert set(content) == (PATCH_TYPES if method == "PATCH" else WRITE_TYPES), (method, path)
        if operation["operationId"][:6] in ("create", "replac"):
            assert operation["requestBody"]["required"] is True, (method, path)
    patch = document()["schema"]["components"]["schemas"]["ClusterPatch"]
    assert "nullable" not in patch and "required" not in patch
    spec = patch["properties"]["spec"]
    cluster_type = spec["properties"]["type"]
    assert spec["nullable"] is True and cluster_type["nullable"] is True and None in cluster_type["enum"]
    assert "default" not in cluster_type  # a patch leaves out what it does not change
    token = document()["schema"]["paths"]["/oauth/token"]["post"]["requestBody"]["content"]
    assert set(token) == {"application/x-www-form-urlencoded", "multipart/form-data", "application/json"}


def test_list_parameters_have_their_formats():
    parameters = {p["name"]: p for p in document()["schema"]["paths"][
        "/oapis/iam.theriseunion.io/v1alpha1/iamroles/"]["get"]["parameters"]}
    assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1}  # a larger limit is served as 5000
    assert parameters["labelSelector"]["schema"] == {"type": "string"}
    assert parameters["continue"]["schema"] == {"type": "string"}
    assert all(p["in"] == "query" and p["description"] for p in parameters.values())


def _as_in_the_crd(schema):
    """A manifest's spec schema as its CRD has it: plain-text passwords left out, no ``writeOnly`` marks."""
    if isinstance(schema, list):
        return [_as_in_the_crd(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _as_in_the_crd(value) for key, value in schema.items() if key not in ("writeOnly", "properties")}
    if "properties" in schema:
        out["properties"] = {name: _as_in_the_crd(child) for name, child in schema["properties"].items()
                             if not (name == "password" and child.get("writeOnly"))}
    return out


def test_each_manifest_carries_the_spec_and_status_schema_of_its_crd():
    """GIVEN every kind with a CRD and an API, THEN the document's manifest has the CRD's spec and status schema
    (the CRD leaves out only plain-text passwords, which the API takes and never shows)."""
    components = document()["schema"]["components"]["schemas"]
    by_kind = {c["spec"]["names"]["kind"]: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
               for c in crds.crds()}
    served = manifest_converters()
    compared = 0
    for kind, crd_schema in by_kind.items():
        if kind not in served:
            continue  # declared kinds have no API yet
        manifest = components[kind]["properties"]
        assert _as_in_the_crd(manifest["spec"]) == crd_schema["properties"]["spec"], kind
        assert manifest.get("status") == crd_schema["properties"].get("status"), kind
        compared += 1
    assert compared == len(crds.crd_kinds())
    user_spec = components["User"]["properties"]["spec"]["properties"]
    assert user_spec["password"]["writeOnly"] is True and "password" not in \
        by_kind["User"]["properties"]["spec"]["properties"]
    assert components["ClusterList"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Cluster"}
    assert components["Cluster"]["properties"]["spec"]["properties"]["type"]["description"]


# --- real answers validate against it ------------------------------------------------------------------------------

def _url(manifest: dict) -> str:
    converter = next(c for c in registered() if c.kind == manifest["kind"] and c.group.endswith("theriseunion.io"))
    return f"/oapis/{converter.group}/{converter.version}/{converter.plural}"


@pytest.mark.django_db
def test_answers_of_every_kind_validate_against_the_document(admin_client, platform):
    """GIVEN an object of every kind created through the API, WHEN listing, reading, replacing, patching and
    deleting them, THEN every answer's code is documented for its operation and its body validates."""
    created = []
    for manifest in rich_manifests("oas"):
        response = admin_client.send("POST", _url(manifest), manifest)
        assert response.status_code == 201, response.json()
        created.append(response.json())
    platform.namespace("oas-ns", "oas-edge", "oas-ws")
    platform.node("oas-node", "oas-edge", "oas-ng")
    for url in ("/oapis/scope.theriseunion.io/v1alpha1/clusters/oas-edge/namespaces",
                "/oapis/scope.theriseunion.io/v1alpha1/clusters/oas-edge/nodes"):
        listed = admin_client.send("GET", url).json()
        assert listed["items"], url
        admin_client.send("GET", f"{url}/{listed['items'][0]['metadata']['name']}")
    for manifest in created:
        url = f"{_url(manifest)}/{manifest['metadata']['name']}"
        assert admin_client.send("GET", _url(manifest) + "?limit=1").status_code == 200
        current = admin_client.send("GET", url)
        assert current.status_code == 200
        assert admin_client.send("PUT", url, current.json()).status_code == 200
        patch = {"metadata": {"annotations": {"checked": "yes"}}}
        assert admin_client.send("PATCH", url, patch, "application/merge-patch+json").status_code == 200
    for manifest in reversed(created):
        if manifest["kind"] in ("IAMRoleBinding", "User", "Category"):
            response = admin_client.send("DELETE", f"{_url(manifest)}/{manifest['metadata']['name']}")
            assert response.status_code == 200 and response.json()["status"] == "Success"


@pytest.mark.django_db
def test_every_error_the_api_answers_is_documented_and_shaped_as_documented(admin_client, platform, api):
    clusters = "/oapis/scope.theriseunion.io/v1alpha1/clusters"
    cluster = {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "oas-c1"},
               "spec": {}}
    anonymous, nobody = Checked(Client()), Checked(Client(), api(platform.user("oas-nobody")).headers)
    answers = {
        401: anonymous.send("GET", clusters),
        400: admin_client.send("GET", clusters + "?limit=0"),
        406: admin_client.send("GET", clusters, HTTP_ACCEPT="text/csv"),
        415: admin_client.send("POST", clusters, "name: x", content_type="text/plain"),
        422: admin_client.send("POST", clusters, {**cluster, "spec": {"type": "imaginary"}}),
        404: admin_client.send("GET", clusters + "/oas-missing"),
        403: nobody.send("POST", clusters, cluster),
    }
    assert admin_client.send("POST", clusters, cluster).status_code == 201
    answers[409] = admin_client.send("POST", clusters, cluster)
    answers[400.1] = admin_client.send("POST", clusters, "{not json", content_type="application/json")
    with override_settings(EDGE_API_MAX_BODY=64):
        answers[413] = admin_client.send("POST", clusters, {**cluster, "spec": {"provider": "x" * 200}})
    for code, response in answers.items():
        assert response.status_code == int(code), (code, response.content)
        assert response.json()["kind"] == "Status"
    # an apply patch of a missing object creates it: 201, documented on PATCH
    applied = admin_client.send("PATCH", clusters + "/oas-c2", {**cluster, "metadata": {"name": "oas-c2"}},
                                "application/apply-patch+yaml")
    assert applied.status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("media_type", sorted(PATCH_TYPES))
def test_every_documented_patch_type_is_read(admin_client, media_type):
    url = "/oapis/iam.theriseunion.io/v1alpha1/categories"
    admin_client.send("POST", url, {"metadata": {"name": "oas-cat"}, "spec": {"icon": "a"}})
    patched = admin_client.send("PATCH", f"{url}/oas-cat", {"spec": {"icon": "b"}}, media_type)
    assert patched.status_code == 200 and patched.json()["spec"]["icon"] == "b"


@pytest.mark.django_db
@pytest.mark.parametrize("media_type", sorted(WRITE_TYPES))
def test_every_documented_body_type_is_read(admin_client, media_type):
    manifest = {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Category", "metadata": {"name": "oas-cat"},
                "spec": {"icon": "a"}}
    body = yaml.safe_dump(manifest) if "yaml" in media_type else json.dumps(manifest)
    created = admin_client.send("POST", "/oapis/iam.theriseunion.io/v1alpha1/categories", body, media_type)
    assert created.status_code == 201
    replaced = admin_client.send("PUT", "/oapis/iam.theriseunion.io/v1alpha1/categories/oas-cat",
                                 body.replace("icon: a", "icon: b").replace('"icon": "a"', '"icon": "b"'),
                                 media_type)
    assert replaced.status_code == 200 and replaced.json()["spec"]["icon"] == "b"


@pytest.mark.django_db
def test_answers_of_the_other_views_validate_against_the_document(admin_client, platform):
    """Access reviews, personal tokens, lockouts, the audit log and OAuth answer what the document says."""
    iam = "/oapis/iam.theriseunion.io/v1alpha1"
    review = admin_client.send("POST", f"{iam}/subjectaccessreviews", {
        "apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "SubjectAccessReview",
        "spec": {"user": "schema-admin", "resourceAttributes": {"verb": "list", "resource": "pods"}}})
    assert review.status_code == 201 and review.json()["status"]["allowed"] is True
    assert admin_client.send("POST", f"{iam}/subjectaccessreviews", {"spec": {}}).status_code == 422
    token = admin_client.send("POST", f"{iam}/users/schema-admin/tokens", {"name": "ci"})
    assert token.status_code == 201
    assert admin_client.send("GET", f"{iam}/users/schema-admin/tokens").json()["items"]
    assert admin_client.send("DELETE", f"{iam}/users/schema-admin/tokens/{token.json()['id']}").status_code == 200
    assert admin_client.send("DELETE", f"{iam}/users/schema-admin/tokens/999999").status_code == 404
    assert admin_client.send("GET", f"{iam}/lockouts").status_code == 200
    assert admin_client.send("GET", f"{iam}/lockouts/nobody").status_code == 404
    events = admin_client.send("GET", f"{iam}/auditevents?limit=5")
    assert events.status_code == 200 and events.json()["items"]
    assert admin_client.send("GET", f"{iam}/auditevents/{events.json()['items'][0]['metadata']['name']}") \
        .status_code == 200
    assert admin_client.send("GET", f"{iam}/auditevents?since=yesterday").status_code == 400
    exported = admin_client.send("GET", f"{iam}/auditevents?format=csv")
    assert exported["Content-Type"].startswith("text/csv")
    oauth = Checked(Client())
    platform.user("oas-login")
    from tests.support import PASSWORD

    granted = oauth.send("POST", "/oauth/token", f"grant_type=password&username=oas-login&password={PASSWORD}",
                         "application/x-www-form-urlencoded")
    assert granted.status_code == 200 and granted.json()["token_type"] == "Bearer"
    refused = oauth.send("POST", "/oauth/token", {"grant_type": "password", "username": "oas-login",
                                                   "password": "wrong"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert oauth.send("POST", "/oauth/token", "x", "text/plain").status_code == 415
    assert oauth.send("POST", "/oauth/revoke", {"token": granted.json()["access_token"]}).status_code == 200
