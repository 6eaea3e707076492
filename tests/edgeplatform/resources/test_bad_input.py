"""Bad input, as a fuzzer or a careless script sends it: every case gets its exact Status (code, reason, the field
it names) and nothing is written — no row, no audited write.

GIVEN a platform administrator (so that no refusal here is a permission's) and one stored cluster
WHEN each malformed request of the table is sent
THEN the answer is the Status the table names, and the database and the audit log hold no new write.
"""
from __future__ import annotations

import base64
import json
import tracemalloc

import pytest
from django.test import Client

from clusters.models import Cluster
from iam.audit.models import AuditEvent

SCOPE = "/oapis/scope.theriseunion.io/v1alpha1"
CLUSTERS = f"{SCOPE}/clusters"
NODEGROUPS = f"{SCOPE}/nodegroups"
JSON, YAML, MERGE = "application/json", "application/yaml", "application/merge-patch+json"


def cluster(name: str = "fresh", **metadata) -> dict:
    """A Cluster manifest."""
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name, **metadata}, "spec": {"type": "physical"}}


def dumps(value) -> bytes:
    """JSON as a client library would send it (lone surrogates escaped, not encoded)."""
    return json.dumps(value).encode()


def yaml_bomb(levels: int) -> bytes:
    """A "billion laughs" Cluster: ``levels`` levels of ten aliases each under spec.config."""
    lines = ['    l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels + 1):
        lines.append(f"    l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 10) + "]")
    head = "apiVersion: scope.theriseunion.io/v1alpha1\nkind: Cluster\nmetadata: {name: lol}\nspec:\n  config:\n"
    return (head + "\n".join(lines) + "\n").encode()


def token(value) -> str:
    """A continue token carrying ``value``, base64-encoded like the server's own."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def deep(depth: int) -> bytes:
    """A Cluster whose spec.config nests ``depth`` lists deep."""
    body = dumps(cluster())
    return body.replace(b'"spec": {"type": "physical"}',
                        b'"spec": {"config": {"x": ' + b"[" * depth + b"]" * depth + b"}}")


#: (id, method, url, content type, body, code, reason, field named in details.causes, or None)
CASES = [
    ("json-5000-deep", "post", CLUSTERS, JSON, deep(5000), 400, "BadRequest", "body"),
    ("json-101-deep", "post", CLUSTERS, JSON, deep(101), 400, "BadRequest",
     "spec.config.x" + "[0]" * 98),
    ("yaml-5000-deep", "post", CLUSTERS, YAML, b"metadata: {name: a}\nspec:\n  config: " + b"[" * 5000 +
     b"]" * 5000, 400, "BadRequest", "body"),
    ("yaml-bomb", "post", CLUSTERS, YAML, yaml_bomb(6), 400, "BadRequest", "body"),
    ("yaml-recursive-alias", "post", CLUSTERS, YAML, b"metadata: {name: a}\nspec:\n  config: &x {a: *x}\n", 400,
     "BadRequest", "spec.config" + ".a" * 99),
    ("yaml-null-label-key", "post", CLUSTERS, YAML,
     b"metadata:\n  name: a\n  labels:\n    ~: x\n", 422, "Invalid", "metadata.labels[~]"),
    ("yaml-complex-key", "post", CLUSTERS, YAML, b"metadata:\n  name: a\n  labels:\n    ? [a]\n    : x\n", 400,
     "BadRequest", "body"),
    ("yaml-binary", "post", CLUSTERS, YAML, b"metadata: {name: a}\nspec:\n  provider: !!binary aGk=\n", 400,
     "BadRequest", "spec.provider"),
    ("yaml-python-tag", "post", CLUSTERS, YAML, b"metadata: {name: a}\nspec: !!python/object:os.system x\n", 400,
     "BadRequest", "body"),
    ("yaml-control-character", "post", CLUSTERS, YAML, b"metadata: {name: a}\nspec:\n  provider: \"a\x1cb\"\n", 400,
     "BadRequest", "body"),
    ("yaml-control-character-in-kubeconfig", "post", CLUSTERS, JSON,
     dumps({**cluster(), "spec": {"type": "physical", "connection": {"kubeconfig": "l\x1c\x95"}}}), 422, "Invalid",
     "spec.connection.kubeconfig"),
    ("yaml-two-documents", "post", CLUSTERS, YAML, b"metadata: {name: a}\n---\nmetadata: {name: b}\n", 400,
     "BadRequest", "body"),
    ("yaml-not-an-object", "post", CLUSTERS, YAML, b"- a\n- b\n", 400, "BadRequest", "body"),
    ("yaml-duplicate-key", "post", CLUSTERS, YAML, b"metadata:\n  name: a\n  labels:\n    k: x\n    k: y\n", 400,
     "BadRequest", "metadata.labels[k]"),
    ("json-duplicate-key", "post", CLUSTERS, JSON,
     b'{"kind": "Cluster", "metadata": {"name": "a", "name": "b"}}', 400, "BadRequest", "metadata.name"),
    ("json-lone-surrogate", "post", CLUSTERS, JSON,
     dumps({**cluster(), "spec": {"type": "physical", "provider": "\ud800"}}), 400, "BadRequest", "spec.provider"),
    ("json-lone-surrogate-key", "post", CLUSTERS, JSON,
     dumps(cluster(annotations={"\udfff": "x"})), 400, "BadRequest", "metadata.annotations"),
    ("json-nul-annotation", "post", CLUSTERS, JSON, dumps(cluster(annotations={"a": "x\x00y"})), 400,
     "BadRequest", "metadata.annotations[a]"),
    ("invalid-utf8", "post", CLUSTERS, JSON, b'{"metadata": {"name": "\xff\xfe"}}', 400, "BadRequest", "body"),
    ("json-nan", "post", CLUSTERS, JSON, b'{"metadata": {"name": "a"}, "spec": {"config": {"x": NaN}}}', 400,
     "BadRequest", "body"),
    ("json-overflowing-number", "post", CLUSTERS, JSON,
     b'{"metadata": {"name": "a"}, "spec": {"config": {"x": 1e999}}}', 400, "BadRequest", "spec.config.x"),
    ("json-huge-integer", "post", CLUSTERS, JSON,
     b'{"metadata": {"name": "a"}, "spec": {"config": {"x": 99999999999999999999}}}', 400, "BadRequest",
     "spec.config.x"),
    ("json-syntax", "post", CLUSTERS, JSON, b'{"metadata": ', 400, "BadRequest", "body"),
    ("body-not-an-object", "post", CLUSTERS, JSON, b"[null, null]", 422, "Invalid", "body"),
    ("name-too-long", "post", CLUSTERS, JSON, dumps(cluster("a" * 254)), 422, "Invalid", "metadata.name"),
    ("name-unicode", "post", CLUSTERS, JSON, dumps(cluster("集群")), 422, "Invalid", "metadata.name"),
    ("name-not-a-string", "post", CLUSTERS, JSON, dumps({**cluster(), "metadata": {"name": 7}}), 422, "Invalid",
     "metadata.name"),
    ("metadata-a-list", "post", CLUSTERS, JSON, dumps({**cluster(), "metadata": [1]}), 422, "Invalid", "metadata"),
    ("spec-a-string", "post", CLUSTERS, JSON, dumps({**cluster(), "spec": "x"}), 422, "Invalid", "spec"),
    ("label-value-a-number", "post", CLUSTERS, JSON, dumps(cluster(labels={"a": 1})), 422, "Invalid",
     "metadata.labels[a]"),
    ("label-key-a-lookup-with-bad-prefix", "post", CLUSTERS, JSON, dumps(cluster(labels={"A_B/c": "x"})), 422,
     "Invalid", "metadata.labels[A_B/c]"),
    ("wrong-kind", "post", CLUSTERS, JSON, dumps({**cluster(), "kind": "Workspace"}), 422, "Invalid", "kind"),
    ("matchlabels-a-list", "post", NODEGROUPS, JSON,
     dumps({"kind": "NodeGroup", "metadata": {"name": "g", "labels": {"scope.theriseunion.io/cluster": "c1"}},
            "spec": {"selector": {"matchLabels": ["a", "b"]}}}), 422, "Invalid", "spec.selector.matchLabels"),
    ("matchexpressions-values-numbers", "post", NODEGROUPS, JSON,
     dumps({"kind": "NodeGroup", "metadata": {"name": "g", "labels": {"scope.theriseunion.io/cluster": "c1"}},
            "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]}}}), 422,
     "Invalid", "spec.selector.matchExpressions[0].values"),
    ("unsupported-media-type", "post", CLUSTERS, "text/plain", b"hello", 415, "UnsupportedMediaType", None),
    ("json-patch", "patch", f"{CLUSTERS}/c1", "application/json-patch+json", b'[{"op": "remove", "path": "/spec"}]',
     415, "UnsupportedMediaType", None),
    ("yaml-as-patch", "patch", f"{CLUSTERS}/c1", YAML, b"spec: {provider: x}\n", 415, "UnsupportedMediaType", None),
    ("unknown-kind-post", "post", f"{SCOPE}/gadgets", JSON, dumps(cluster()), 404, "NotFound", None),
    ("unknown-group-delete", "delete", "/oapis/nothing.example.com/v1/things/x", JSON, b"", 404, "NotFound", None),
    ("unknown-version-put", "put", "/oapis/scope.theriseunion.io/v9/clusters/c1", JSON, dumps(cluster("c1")), 404,
     "NotFound", None),
    ("method-not-allowed", "put", CLUSTERS, JSON, dumps(cluster()), 405, "MethodNotAllowed", None),
    ("name-mismatch", "put", f"{CLUSTERS}/c1", JSON, dumps(cluster("other")), 422, "Invalid", "metadata.name"),
    ("selector-2000-terms", "get", f"{CLUSTERS}?labelSelector=" + ",".join(f"k{i}=v" for i in range(2000)), JSON,
     b"", 400, "BadRequest", "labelSelector"),
    ("selector-bad-key", "get", f"{CLUSTERS}?labelSelector=-a=b", JSON, b"", 400, "BadRequest", "labelSelector"),
    ("selector-empty-set", "get", f"{CLUSTERS}?labelSelector=a%20in%20()", JSON, b"", 400, "BadRequest",
     "labelSelector"),
    ("selector-key-too-long", "get", f"{CLUSTERS}?labelSelector={'k' * 64}=v", JSON, b"", 400, "BadRequest",
     "labelSelector"),
    ("limit-negative", "get", f"{CLUSTERS}?limit=-1", JSON, b"", 400, "BadRequest", "limit"),
    ("limit-zero", "get", f"{CLUSTERS}?limit=0", JSON, b"", 400, "BadRequest", "limit"),
    ("limit-huge", "get", f"{CLUSTERS}?limit=99999999999999999999999", JSON, b"", 400, "BadRequest", "limit"),
    ("limit-word", "get", f"{CLUSTERS}?limit=ten", JSON, b"", 400, "BadRequest", "limit"),
    ("continue-garbage", "get", f"{CLUSTERS}?continue=!!!", JSON, b"", 400, "BadRequest", "continue"),
    ("continue-infinite-pk", "get", f"{CLUSTERS}?continue=" + token(["a", 1e999]).replace("=", "%3D"), JSON, b"",
     400, "BadRequest", "continue"),
    ("continue-wrong-types", "get", f"{CLUSTERS}?continue=" + token([["a"], "1"]).replace("=", "%3D"), JSON, b"",
     400, "BadRequest", "continue"),
    ("continue-not-a-pair", "get", f"{CLUSTERS}?continue=" + token({"a": 1}).replace("=", "%3D"), JSON, b"",
     400, "BadRequest", "continue"),
]


@pytest.fixture
def admin_client(platform):
    """A test client carrying an administrator's bearer token, with one cluster c1 stored."""
    from tests.support import issue_token

    platform.cluster("c1")
    user = platform.user("root", superuser=True)
    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_token(user)}")


def _writes() -> tuple[int, int]:
    return Cluster.objects.count(), AuditEvent.objects.exclude(result="denied").count()


@pytest.mark.parametrize(("method", "url", "content_type", "body", "code", "reason", "field"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_gets_its_status_and_writes_nothing(admin_client, method, url, content_type, body, code, reason,
                                                      field):
    before = _writes()
    kwargs = {"content_type": content_type} if method != "get" else {}
    response = getattr(admin_client, method)(url, data=body, **kwargs) if method != "get" \
        else admin_client.get(url)
    assert response.status_code == code, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    status = response.json()
    assert status["kind"] == "Status" and status["status"] == "Failure"
    assert (status["code"], status["reason"]) == (code, reason)
    if field is not None:
        assert field in [c["field"] for c in status["details"]["causes"]], status
    assert _writes() == before


def test_an_oversized_body_is_refused_before_it_is_read(admin_client, settings):
    settings.EDGE_API_MAX_BODY = 1024 * 1024
    before = _writes()
    body = dumps({**cluster(), "spec": {"type": "physical", "config": {"blob": "x" * (10 * 1024 * 1024)}}})
    response = admin_client.post(CLUSTERS, data=body, content_type=JSON)
    assert response.status_code == 413
    assert response.json()["reason"] == "RequestEntityTooLarge"
    assert _writes() == before
    # the same limit on the OAuth endpoint, in its own error shape
    response = Client().post("/oauth/token", data=b"x" * (2 * 1024 * 1024),
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


def test_a_yaml_bomb_is_refused_with_flat_memory(admin_client, platform):
    """Seven levels of ten aliases (10^7 nodes expanded) from a user with no bindings at all: refused before
    authorization has anything to do, having composed a few dozen nodes."""
    from tests.support import issue_token

    nobody = Client(HTTP_AUTHORIZATION=f"Bearer {issue_token(platform.user('nobody'))}")
    body = yaml_bomb(7)
    assert len(body) < 700
    tracemalloc.start()
    try:
        response = nobody.post(CLUSTERS, data=body, content_type=YAML)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 400
    assert "aliases expand" in response.json()["message"]
    assert peak < 5 * 1024 * 1024, f"peak {peak} bytes"
    assert not Cluster.objects.filter(name="lol").exists()


def test_label_keys_never_become_database_lookups(admin_client):
    """``a__gt=1`` is a label key like any other: it selects clusters carrying that key, not ``a > 1``."""
    for name, labels in (("five", {"a": "5"}), ("odd", {"a__gt": "1"}), ("digit", {"1": "x"})):
        assert admin_client.post(CLUSTERS, data=dumps(cluster(name, labels=labels)),
                                 content_type=JSON).status_code == 201

    def names(selector: str) -> list[str]:
        response = admin_client.get(CLUSTERS, {"labelSelector": selector})
        assert response.status_code == 200, response.content
        return [item["metadata"]["name"] for item in response.json()["items"]]

    assert names("a__gt=1") == ["odd"]
    assert names("a__regex=5") == []
    assert names("a__contains=5") == []
    assert names("a__isnull") == []
    assert names("a__isnull=true") == []
    assert names("1=x") == ["digit"]  # a key that looks like an array index is still a key
    assert names("1") == ["digit"]
    assert names("a=5") == ["five"]
    assert names("!a,!1") == ["c1", "odd"]


def test_yaml_scalar_keys_and_dates_are_taken_as_written(admin_client):
    body = (b"apiVersion: scope.theriseunion.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: dated\n  labels:\n"
            b"    1: one\n  annotations:\n    since: 2020-01-01\n    at: 2020-01-01T10:00:00Z\n")
    response = admin_client.post(CLUSTERS, data=body, content_type="application/x-yaml")
    assert response.status_code == 201, response.content
    metadata = response.json()["metadata"]
    assert metadata["labels"] == {"1": "one"}
    assert metadata["annotations"] == {"since": "2020-01-01", "at": "2020-01-01T10:00:00Z"}
