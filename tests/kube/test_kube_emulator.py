"""The emulated API server behaves like kube-apiserver where later tests rely on it (real client, real HTTP)."""
from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from urllib3.exceptions import ProtocolError

from tests.kube.testing import raw, wait_for

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.io"},
    "spec": {"group": "example.io", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "required": ["size"], "properties": {
                                   "size": {"type": "integer", "minimum": 1},
                                   "color": {"type": "string", "enum": ["red", "blue"]},
                                   "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
                               "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}}}}]},
}


def widgets(api_client):
    return client.CustomObjectsApi(api_client)


def install_crd(api_client):
    client.ApiextensionsV1Api(api_client).create_custom_resource_definition(CRD)


def test_fixture_starts_fast_and_hands_out_a_kubeconfig(kube_clusters):
    started = time.perf_counter()
    host, member = kube_clusters(2)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5  # typically ~5 ms each; generous for a loaded machine
    assert host.url != member.url and host.url.startswith("http://127.0.0.1:")
    host_api = config.new_client_from_config(str(host.kubeconfig_path))
    client.CoreV1Api(host_api).create_namespaced_config_map("default", {"metadata": {"name": "only-on-host"}})
    assert host.object("configmaps", "only-on-host", "default")
    assert member.object("configmaps", "only-on-host", "default") is None


def test_discovery_documents_with_and_without_trailing_slash(kube, api):
    for path in ("/api", "/api/", "/api/v1", "/api/v1/", "/apis", "/apis/", "/apis/rbac.authorization.k8s.io/v1/",
                 "/apis/rbac.authorization.k8s.io", "/version", "/openapi/v2"):
        status, _ = raw(api, "GET", path)
        assert status == 200, path
    _, core = raw(api, "GET", "/api/v1/")
    assert core["groupVersion"] == "v1"
    assert {"namespaces", "secrets", "configmaps", "serviceaccounts", "nodes"} <= {r["name"] for r in core["resources"]}
    install_crd(api)
    _, groups = raw(api, "GET", "/apis")
    assert "example.io" in {g["name"] for g in groups["groups"]}
    # the dynamic client discovers the new kind and uses it
    dyn = DynamicClient(api)
    resource = dyn.resources.get(api_version="example.io/v1alpha1", kind="Widget")
    created = resource.create(namespace="default", body={"apiVersion": "example.io/v1alpha1", "kind": "Widget",
                                                         "metadata": {"name": "w"}, "spec": {"size": 1}})
    assert created.metadata.uid


def test_create_get_conflicts_and_metadata(kube, api):
    core = client.CoreV1Api(api)
    before = kube.resource_version
    first = core.create_namespace({"metadata": {"name": "team-a"}})
    cm = core.create_namespaced_config_map("team-a", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    assert first.status.phase == "Active"
    assert int(cm.metadata.resource_version) == int(first.metadata.resource_version) + 1 > before
    assert cm.metadata.uid and cm.metadata.creation_timestamp
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map("team-a", {"metadata": {"name": "cfg"}})
    assert exists.value.status == 409 and json.loads(exists.value.body)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("nope", "team-a")
    status = json.loads(missing.value.body)
    assert (missing.value.status, status["kind"], status["reason"]) == (404, "Status", "NotFound")
    with pytest.raises(ApiException) as no_namespace:
        core.create_namespaced_secret("ghost", {"metadata": {"name": "s"}})
    assert no_namespace.value.status == 404
    stale = cm.to_dict()
    stale["metadata"]["resource_version"] = str(int(cm.metadata.resource_version) - 1)
    cm.data = {"a": "2"}
    updated = core.replace_namespaced_config_map("cfg", "team-a", cm)
    assert updated.data == {"a": "2"}
    cm.metadata.resource_version = stale["metadata"]["resource_version"]
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("cfg", "team-a", cm)
    assert conflict.value.status == 409 and json.loads(conflict.value.body)["reason"] == "Conflict"


def test_secret_string_data_and_merge_patch(kube, api):
    core = client.CoreV1Api(api)
    secret = core.create_namespaced_secret("default", {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert secret.data == {"k": "dg=="} and secret.type == "Opaque"
    patched = core.patch_namespaced_secret("s", "default", {"metadata": {"labels": {"x": "1"}}})
    assert patched.metadata.labels == {"x": "1"} and patched.data == {"k": "dg=="}


def test_custom_resources_generation_status_and_validation(kube, api):
    install_crd(api)
    custom = widgets(api)
    created = custom.create_namespaced_custom_object("example.io", "v1alpha1", "default", "widgets", {
        "apiVersion": "example.io/v1alpha1", "kind": "Widget", "metadata": {"name": "w1"},
        "spec": {"size": 2, "unknown": "dropped", "extra": {"kept": True}}, "status": {"phase": "ignored"}})
    assert created["metadata"]["generation"] == 1
    assert created["spec"] == {"size": 2, "extra": {"kept": True}}  # pruned, except under preserve-unknown
    assert "status" not in created  # status is a subresource: ignored on create
    with_status = custom.patch_namespaced_custom_object_status(
        "example.io", "v1alpha1", "default", "widgets", "w1", {"status": {"phase": "Ready"}})
    assert with_status["status"] == {"phase": "Ready"} and with_status["metadata"]["generation"] == 1
    changed = custom.patch_namespaced_custom_object("example.io", "v1alpha1", "default", "widgets", "w1",
                                                    {"spec": {"size": 3}})
    assert changed["metadata"]["generation"] == 2 and changed["status"] == {"phase": "Ready"}
    with pytest.raises(ApiException) as invalid:
        custom.create_namespaced_custom_object("example.io", "v1alpha1", "default", "widgets", {
            "apiVersion": "example.io/v1alpha1", "kind": "Widget", "metadata": {"name": "bad"},
            "spec": {"size": "big", "color": "green"}})
    status = json.loads(invalid.value.body)
    assert invalid.value.status == 422 and status["reason"] == "Invalid"
    assert {c["field"] for c in status["details"]["causes"]} == {"spec.size", "spec.color"}
    with pytest.raises(ApiException) as required:
        custom.create_namespaced_custom_object("example.io", "v1alpha1", "default", "widgets", {
            "apiVersion": "example.io/v1alpha1", "kind": "Widget", "metadata": {"name": "bad"}, "spec": {}})
    assert json.loads(required.value.body)["details"]["causes"][0] == {
        "reason": "FieldValueRequired", "message": "Required value", "field": "spec.size"}


def test_server_side_apply_creates_tracks_owners_and_is_idempotent(kube, api):
    path = "/api/v1/namespaces/default/configmaps/applied"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1", "b": "2"}}
    apply = "application/apply-patch+yaml"
    status, created = raw(api, "PATCH", path, body, apply, {"fieldManager": "edge-platform"})
    assert status == 201 and created["data"] == {"a": "1", "b": "2"}
    assert [(m["manager"], m["operation"]) for m in created["metadata"]["managedFields"]] == [("edge-platform",
                                                                                              "Apply")]
    assert created["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}}
    status, again = raw(api, "PATCH", path, body, apply, {"fieldManager": "edge-platform"})
    assert status == 200 and again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    # another manager changes a field we own: conflict unless forced
    status, _ = raw(api, "PATCH", path, dict(body, data={"a": "other"}), apply, {"fieldManager": "kubectl"})
    assert status == 409
    status, forced = raw(api, "PATCH", path, dict(body, data={"a": "other"}), apply,
                         {"fieldManager": "kubectl", "force": "true"})
    assert status == 200 and forced["data"] == {"a": "other", "b": "2"}
    # dropping a field from our configuration removes it (nobody else owns b)
    status, dropped = raw(api, "PATCH", path, dict(body, data={"a": "1"}), apply,
                          {"fieldManager": "edge-platform", "force": "true"})
    assert dropped["data"] == {"a": "1"}
    status, _ = raw(api, "PATCH", path, body, apply)  # fieldManager is required for apply
    assert status == 400


def test_label_and_field_selectors(kube, api):
    core = client.CoreV1Api(api)
    for name, labels in (("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "db"}), ("c", {})):
        core.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": labels}})

    def names(**kwargs):
        return sorted(i.metadata.name for i in core.list_namespaced_config_map("default", **kwargs).items)

    assert names(label_selector="tier=web") == ["a"]
    assert names(label_selector="tier in (web,db)") == ["a", "b"]
    assert names(label_selector="tier notin (web)") == ["b", "c"]
    assert names(label_selector="env") == ["a"]
    assert names(label_selector="!tier") == ["c"]
    assert names(label_selector="tier!=db,env=prod") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.namespace!=default") == []
    deleted = raw(api, "DELETE", "/api/v1/namespaces/default/configmaps", query={"labelSelector": "tier"})[1]
    assert sorted(i["metadata"]["name"] for i in deleted["items"]) == ["a", "b"]
    assert names() == ["c"]


def test_pagination_and_expired_continue(kube, api):
    core = client.CoreV1Api(api)
    for i in range(5):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"cm-{i}"}})
    first = core.list_namespaced_config_map("default", limit=2)
    assert [i.metadata.name for i in first.items] == ["cm-0", "cm-1"]
    assert first.metadata.remaining_item_count == 3
    second = core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    third = core.list_namespaced_config_map("default", limit=2, _continue=second.metadata._continue)
    assert [i.metadata.name for i in second.items + third.items] == ["cm-2", "cm-3", "cm-4"]
    assert not third.metadata._continue
    core.create_namespaced_config_map("default", {"metadata": {"name": "later"}})
    kube.compact()
    with pytest.raises(ApiException) as gone:
        core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    assert gone.value.status == 410


def collect(func, *args, stop_after: int, **kwargs) -> tuple[list, threading.Thread]:
    """Run a watch in a thread until ``stop_after`` events (bounded by the stream's timeout)."""
    events: list = []
    w = watch.Watch()

    def run():
        for event in w.stream(func, *args, timeout_seconds=5, **kwargs):
            events.append(event)
            if len(events) >= stop_after:
                w.stop()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return events, thread


def test_watch_streams_changes_from_a_resource_version(kube, api):
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    events, thread = collect(core.list_namespaced_config_map, "default", stop_after=3, resource_version=rv)
    assert wait_for(lambda: kube.open_watches == 1)
    core.create_namespaced_config_map("default", {"metadata": {"name": "w"}})
    core.patch_namespaced_config_map("w", "default", {"data": {"x": "1"}})
    core.delete_namespaced_config_map("w", "default")
    thread.join(5)
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "w"), ("MODIFIED", "w"),
                                                                       ("DELETED", "w")]


def test_watch_resumes_after_a_dropped_connection_without_losing_events(kube, api):
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    seen: list = []
    w = watch.Watch()
    first = w.stream(core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5)
    core.create_namespaced_config_map("default", {"metadata": {"name": "one"}})
    seen.append(next(first))
    kube.drop_watches(abrupt=True)
    core.create_namespaced_config_map("default", {"metadata": {"name": "two"}})  # happens while disconnected
    with pytest.raises(ProtocolError):  # the cut, as the client surfaces it
        next(first)
    resumed = watch.Watch().stream(core.list_namespaced_config_map, "default",
                                   resource_version=seen[-1]["object"].metadata.resource_version, timeout_seconds=5)
    seen.append(next(resumed))
    assert [e["object"].metadata.name for e in seen] == ["one", "two"]


def test_watch_reports_410_for_a_compacted_resource_version(kube, api):
    rv = kube.resource_version
    client.CoreV1Api(api).create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    kube.compact()
    status, _ = raw(api, "GET", "/api/v1/namespaces/default/configmaps")
    lines = []
    request = api.param_serialize("GET", "/api/v1/namespaces/default/configmaps",
                                  query_params=[("watch", "1"), ("resourceVersion", str(rv))],
                                  auth_settings=["BearerToken"])
    response = api.call_api(*request, _request_timeout=5)
    for line in response.response.stream():
        lines += [json.loads(part) for part in line.splitlines() if part.strip()]
    assert status == 200 and lines[0]["type"] == "ERROR" and lines[0]["object"]["code"] == 410


def test_watch_bookmarks_carry_the_latest_resource_version(kube, api):
    core = client.CoreV1Api(api)
    w = watch.Watch()
    stream = w.stream(core.list_namespaced_config_map, "default", allow_watch_bookmarks=True,
                      resource_version=str(kube.resource_version), timeout_seconds=5)
    core.create_namespace({"metadata": {"name": "elsewhere"}})  # a change the watch does not show
    kube.bookmark_interval = 0.1
    event = next(stream)
    assert event["type"] == "BOOKMARK"
    assert int(w.resource_version) == kube.resource_version
    kube.bookmark_interval = 60
    core.create_namespace({"metadata": {"name": "elsewhere-too"}})
    kube.send_bookmarks()
    assert next(stream)["type"] == "BOOKMARK" and int(w.resource_version) == kube.resource_version
    w.stop()


def test_label_selector_watch_sees_objects_enter_and_leave(kube, api):
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "m"}})
    events, thread = collect(core.list_namespaced_config_map, "default", stop_after=2, label_selector="team=a",
                             resource_version=str(kube.resource_version))
    assert wait_for(lambda: kube.open_watches == 1)
    core.patch_namespaced_config_map("m", "default", {"metadata": {"labels": {"team": "a"}}})
    core.patch_namespaced_config_map("m", "default", {"metadata": {"labels": {"team": "b"}}})
    thread.join(5)
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]


def test_request_log_counts_writes_and_fault_hooks(kube, api):
    core = client.CoreV1Api(api)
    kube.requests.clear()
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.read_namespaced_config_map("a", "default")
    core.delete_namespaced_config_map("a", "default")
    assert kube.requests.count_writes() == 2
    assert kube.requests.by_verb() == {"create": 1, "get": 1, "delete": 1}
    kube.fail_next(1, status=503, retry_after=2)
    api.rest_client.pool_manager.connection_pool_kw["retries"] = False  # urllib3 would honour Retry-After itself
    api.rest_client.pool_manager.clear()
    with pytest.raises(ApiException) as unavailable:
        core.list_namespaced_config_map("default")
    assert unavailable.value.status == 503 and unavailable.value.headers["Retry-After"] == "2"
    assert core.list_namespaced_config_map("default").items == []


def test_rbac_objects_are_validated(kube, api):
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_cluster_role({"metadata": {"name": "edge:viewer"},
                              "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
    binding = {"metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                      "kind": "ClusterRole", "name": "edge:viewer"},
               "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]}
    rbac.create_namespaced_role_binding("default", binding)
    binding["roleRef"]["name"] = "other"
    with pytest.raises(ApiException) as immutable:
        rbac.patch_namespaced_role_binding("b", "default", {"roleRef": binding["roleRef"]})
    assert immutable.value.status == 422
    with pytest.raises(ApiException) as bad_subject:
        rbac.create_cluster_role_binding({"metadata": {"name": "c"}, "roleRef": binding["roleRef"],
                                          "subjects": [{"kind": "Robot", "name": "r"}]})
    assert [c["field"] for c in json.loads(bad_subject.value.body)["details"]["causes"]] == ["subjects[0].kind"]


def test_token_is_required_when_configured(kube_clusters):
    (secured,) = kube_clusters(1, tokens=["t0ken"])
    good = config.new_client_from_config(str(secured.kubeconfig_path))
    assert client.CoreV1Api(good).list_namespace().items
    bad = client.ApiClient(client.Configuration(host=secured.url))
    with pytest.raises(ApiException) as unauthorized:
        client.CoreV1Api(bad).list_namespace()
    assert unauthorized.value.status == 401


@pytest.mark.realcluster
def test_real_cluster_switch(kube):
    """With EDGE_TEST_KUBECONFIG the same fixture hands out the real cluster."""
    api_client = config.new_client_from_config(str(kube.kubeconfig_path))
    assert client.VersionApi(api_client).get_code().major


def test_cluster_scoped_crd_status_apply_finalizers_and_cascades(kube, api):
    crd = json.loads(json.dumps(CRD))
    crd["metadata"]["name"] = "gadgets.example.io"
    crd["spec"].update(scope="Cluster", names={"plural": "gadgets", "kind": "Gadget"})
    client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    path = "/apis/example.io/v1alpha1/gadgets/g1"
    body = {"apiVersion": "example.io/v1alpha1", "kind": "Gadget", "metadata": {"name": "g1"},
            "spec": {"size": 1}, "status": {"phase": "dropped on the main resource"}}
    apply = "application/apply-patch+yaml"
    status, created = raw(api, "PATCH", path, body, apply, {"fieldManager": "edge-platform"})
    assert status == 201 and "status" not in created and "namespace" not in created["metadata"]
    status, with_status = raw(api, "PATCH", path + "/status", dict(body, status={"phase": "Ready"}), apply,
                              {"fieldManager": "edge-platform"})
    assert status == 200 and with_status["status"] == {"phase": "Ready"}
    assert with_status["metadata"]["generation"] == 1
    # a finalizer holds a deleted object until it is removed
    raw(api, "PATCH", path, {"metadata": {"finalizers": ["example.io/cleanup"]}}, "application/merge-patch+json")
    status, held = raw(api, "DELETE", path)
    assert status == 200 and held["metadata"]["deletionTimestamp"]
    raw(api, "PATCH", path, {"metadata": {"finalizers": None}}, "application/merge-patch+json")
    assert kube.object("gadgets", "g1") is None
    # deleting a CRD removes its resources and stops serving them
    raw(api, "PATCH", path, body, apply, {"fieldManager": "edge-platform"})
    client.ApiextensionsV1Api(api).delete_custom_resource_definition("gadgets.example.io")
    assert raw(api, "GET", "/apis/example.io/v1alpha1/gadgets")[0] == 404
    # deleting a namespace deletes what is in it
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "inside"}})
    core.delete_namespace("doomed")
    assert kube.objects("configmaps", namespace="doomed") == []


def test_percent_encoded_names_in_paths_are_decoded(kube, api):
    """RBAC names such as ``edge:role:x`` travel percent-encoded in the URL, as clients quote them."""
    body = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "edge:role:x"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/edge%3Arole%3Ax"
    status, created = raw(api, "PATCH", path, body, "application/apply-patch+yaml", {"fieldManager": "t"})
    assert status == 201 and created["metadata"]["name"] == "edge:role:x"
    assert raw(api, "GET", path)[0] == 200 and kube.object("clusterroles", "edge:role:x")
