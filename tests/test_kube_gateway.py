"""The Kubernetes gateway against emulated clusters: idempotent writes, typed errors, retries, timeouts and
member clusters reached through their encrypted connections (secrets never logged, never shown)."""
from __future__ import annotations

import logging
import time

import pytest
import yaml
from django.test import override_settings

from edgeplatform import kube as gateway
from edgeplatform.kube import KubeError, KubeNotConfigured, KubeUnavailable

CLUSTERS = "/oapis/scope.theriseunion.io/v1alpha1/clusters"
FAST_RETRIES = {"EDGE_KUBE_RETRIES": 3, "EDGE_KUBE_BACKOFF": 0.01, "EDGE_KUBE_BACKOFF_MAX": 0.05}


def configmap(name="cfg", data=None, labels=None, **meta) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "labels": labels or {}, **meta},
            "data": data if data is not None else {"a": "1"}}


@pytest.fixture
def host(kube):
    """The gateway's host client, configured through EDGE_KUBECONFIG like a deployment would be."""
    with override_settings(EDGE_KUBECONFIG=str(kube.kubeconfig_path), **FAST_RETRIES):
        yield gateway.host_client()


def test_no_host_cluster_means_not_configured(monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with override_settings(EDGE_KUBECONFIG=""):
        assert not gateway.host_configured()
        with pytest.raises(KubeNotConfigured):
            gateway.host_client()


def test_host_client_comes_from_the_kubeconfig_setting_and_is_cached(kube, host):
    assert host.host == kube.url
    assert gateway.host_client() is host


def test_apply_creates_then_updates_and_a_repeat_changes_nothing(kube, host):
    kube.requests.clear()
    # the platform's own uid/resourceVersion must not leak into the cluster (they would be preconditions)
    created = gateway.apply(host, configmap(uid="platform-uid", resourceVersion="999"))
    assert created["metadata"]["uid"] != "platform-uid"
    assert [m["manager"] for m in created["metadata"]["managedFields"]] == ["edge-platform"]
    updated = gateway.apply(host, configmap(data={"a": "2"}))
    assert updated["data"] == {"a": "2"}
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    again = gateway.apply(host, configmap(data={"a": "2"}))
    assert again["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]
    # one discovery read, then one PATCH per apply: no get-then-create
    assert kube.requests.by_verb() == {"get": 1, "patch": 3}
    assert kube.object("configmaps", "cfg", "default")["data"] == {"a": "2"}


def test_apply_removes_fields_we_stop_sending_and_takes_over_with_force(kube, host):
    gateway.apply(host, configmap(labels={"keep": "1", "drop": "1"}))
    trimmed = gateway.apply(host, configmap(labels={"keep": "1"}))
    assert trimmed["metadata"]["labels"] == {"keep": "1"}
    gateway.apply(host, configmap(data={"a": "theirs"}), field_manager="kubectl", force=True)
    with pytest.raises(KubeError) as conflict:
        gateway.apply(host, configmap(data={"a": "ours"}), force=False)
    assert conflict.value.status == 409 and conflict.value.reason == "Conflict"
    assert conflict.value.causes[0]["field"] == ".data.a"
    assert gateway.apply(host, configmap(data={"a": "ours"}))["data"] == {"a": "ours"}


def test_ensure_absent_is_idempotent(kube, host):
    gateway.apply(host, configmap())
    assert gateway.ensure_absent(host, "v1", "ConfigMap", "cfg", "default") is True
    assert gateway.ensure_absent(host, "v1", "ConfigMap", "cfg", "default") is False
    assert kube.object("configmaps", "cfg", "default") is None
    # a kind the cluster does not serve (CRD not installed) is absent too
    assert gateway.ensure_absent(host, "example.io/v1", "Widget", "w") is False


def test_get_and_list_objects(kube, host):
    for i in range(7):
        gateway.apply(host, configmap(f"cm-{i}", labels={"parity": "even" if i % 2 == 0 else "odd"}))
    assert gateway.get(host, "v1", "ConfigMap", "missing", "default") is None
    assert gateway.get(host, "v1", "ConfigMap", "cm-1", "default")["metadata"]["labels"] == {"parity": "odd"}
    kube.requests.clear()
    everything = gateway.list_objects(host, "v1", "ConfigMap", "default", page_size=3)
    assert [o["metadata"]["name"] for o in everything] == [f"cm-{i}" for i in range(7)]
    assert kube.requests.count(verb="list") == 3 and everything.resource_version
    odd = gateway.list_objects(host, "v1", "ConfigMap", label_selector="parity in (odd)")
    assert [o["metadata"]["name"] for o in odd] == ["cm-1", "cm-3", "cm-5"]


def test_client_errors_map_to_kube_error(kube, host):
    with pytest.raises(KubeError) as missing:
        gateway.get(host, "v1", "ConfigMap", "missing", "default", missing_ok=False)
    assert (missing.value.status, missing.value.reason) == (404, "NotFound")
    with pytest.raises(KubeError) as no_namespace:
        gateway.apply(host, dict(configmap(), metadata={"name": "x", "namespace": "ghost"}))
    assert no_namespace.value.status == 404
    gateway.apply(host, configmap())
    with pytest.raises(KubeError) as exists:
        host.request("POST", "/api/v1/namespaces/default/configmaps", body=configmap())
    assert (exists.value.status, exists.value.reason) == (409, "AlreadyExists")
    kube.requests.clear()
    with pytest.raises(KubeError) as invalid:
        gateway.apply(host, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                          "metadata": {"name": "b"},
                          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                          "subjects": [{"kind": "User", "name": "alice"}]})
    assert (invalid.value.status, invalid.value.reason) == (422, "Invalid")
    assert {c["field"] for c in invalid.value.causes} == {"roleRef.kind", "subjects[0].apiGroup"}
    assert kube.requests.count(verb="patch") == 1  # a 4xx is not retried


def test_server_trouble_is_retried_with_backoff(kube, host):
    gateway.apply(host, configmap())
    kube.requests.clear()
    kube.fail_next(2, status=503)
    assert gateway.apply(host, configmap(data={"a": "2"}))["data"] == {"a": "2"}
    assert kube.requests.count(verb="patch") == 3
    kube.fail_next(1, status=429, retry_after=1)
    started = time.monotonic()
    assert gateway.get(host, "v1", "ConfigMap", "cfg", "default")
    assert time.monotonic() - started >= 1.0  # Retry-After honoured over our shorter backoff


def test_retries_are_bounded(kube, host):
    kube.requests.clear()
    kube.fail_next(10, status=500)
    with pytest.raises(KubeUnavailable) as unavailable:
        gateway.get(host, "v1", "ConfigMap", "cfg", "default")
    assert unavailable.value.status == 500
    assert kube.requests.count() == 1 + 3  # the first attempt and EDGE_KUBE_RETRIES more


def test_timeouts_and_unreachable_servers_fail_within_bounds(kube, tmp_path):
    with override_settings(EDGE_KUBECONFIG=str(kube.kubeconfig_path), EDGE_KUBE_READ_TIMEOUT=0.2,
                           EDGE_KUBE_RETRIES=1, EDGE_KUBE_BACKOFF=0.01):
        client = gateway.host_client()
        client.resource("v1", "ConfigMap")
        kube.delay_next(2, seconds=1.0)
        started = time.monotonic()
        with pytest.raises(KubeUnavailable) as slow:
            gateway.get(client, "v1", "ConfigMap", "cfg", "default")
        assert time.monotonic() - started < 1.0 and slow.value.status == 0
        kube.stop()
        started = time.monotonic()
        with pytest.raises(KubeUnavailable):
            gateway.get(client, "v1", "ConfigMap", "cfg", "default")
        assert time.monotonic() - started < 1.0


def test_watch_events_resume_after_a_drop_and_report_gone(kube, host):
    gateway.apply(host, configmap("before"))
    start = gateway.list_objects(host, "v1", "ConfigMap", "default").resource_version
    stream = gateway.watch_events(host, "v1", "ConfigMap", "default", resource_version=start, timeout_seconds=5)
    gateway.apply(host, configmap("one"))
    first = next(stream)
    kube.drop_watches()
    gateway.apply(host, configmap("two"))
    with pytest.raises(KubeUnavailable):
        next(stream)
    resumed = gateway.watch_events(host, "v1", "ConfigMap", "default",
                                resource_version=first["object"]["metadata"]["resourceVersion"], timeout_seconds=5)
    assert [first["object"]["metadata"]["name"], next(resumed)["object"]["metadata"]["name"]] == ["one", "two"]
    kube.drop_watches(abrupt=False)
    kube.compact()
    with pytest.raises(KubeError) as gone:
        next(gateway.watch_events(host, "v1", "ConfigMap", "default", resource_version=start))
    assert gone.value.status == 410


def cluster_manifest(name: str, connection: dict) -> dict:
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": name},
            "spec": {"type": "physical", "connection": connection}}


def test_member_clients_reach_their_own_cluster_through_encrypted_connections(kube_clusters, platform, caplog):
    _, edge1, edge2 = kube_clusters(3, tokens=[None, "token-edge-1", "token-edge-2"])
    caplog.set_level(logging.DEBUG)
    by_token = platform.apply(cluster_manifest("edge-1", {
        "type": "direct", "kubernetesAPIEndpoint": edge1.url, "token": "token-edge-1"}))[0]
    by_kubeconfig = platform.apply(cluster_manifest("edge-2", {
        "type": "direct", "kubeconfig": yaml.safe_dump(edge2.kubeconfig())}))[0]
    assert b"token-edge-1" not in bytes(by_token.connection_secret)  # encrypted at rest
    assert "token" not in by_token.spec["connection"]
    with override_settings(**FAST_RETRIES):
        one, two = gateway.member_client(by_token), gateway.member_client(by_kubeconfig)
        gateway.apply(one, configmap("on-edge-1"))
        gateway.apply(two, configmap("on-edge-2"))
        edge1.fail_next(1, status=503)  # a retry is logged: it must not carry the token
        assert gateway.get(one, "v1", "ConfigMap", "on-edge-1", "default")
        assert gateway.member_client(by_token) is one  # cached while the connection is unchanged
    assert edge1.object("configmaps", "on-edge-1", "default") and not edge1.object("configmaps", "on-edge-2",
                                                                                     "default")
    assert edge2.object("configmaps", "on-edge-2", "default") and not edge2.object("configmaps", "on-edge-1",
                                                                                     "default")
    assert "token-edge" not in caplog.text and "retry 1/" in caplog.text


def test_a_changed_connection_rebuilds_the_client(kube_clusters, platform):
    first, second = kube_clusters(2, tokens=["t1", "t2"])
    cluster = platform.apply(cluster_manifest("edge", {"kubernetesAPIEndpoint": first.url, "token": "t1"}))[0]
    before = gateway.member_client(cluster)
    assert before.host == first.url
    cluster = platform.apply(cluster_manifest("edge", {"kubernetesAPIEndpoint": second.url, "token": "t2"}))[0]
    after = gateway.member_client(cluster)
    assert after is not before and after.host == second.url
    gateway.apply(after, configmap())
    assert second.object("configmaps", "cfg", "default")


def test_a_wrong_token_is_a_clear_401(kube_clusters, platform):
    (secured,) = kube_clusters(1, tokens=["right"])
    cluster = platform.apply(cluster_manifest("edge", {"kubernetesAPIEndpoint": secured.url, "token": "wrong"}))[0]
    with pytest.raises(KubeError) as unauthorized:
        gateway.get(gateway.member_client(cluster), "v1", "ConfigMap", "x", "default")
    assert unauthorized.value.status == 401 and "wrong" not in str(unauthorized.value)


def test_a_cluster_without_connection_is_not_configured_unless_it_is_the_host(platform, host):
    with pytest.raises(KubeNotConfigured):
        gateway.member_client(platform.cluster("bare"))
    (itself,) = platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                                "metadata": {"name": "host", "labels": {"cluster.theriseunion.io/role": "host"}},
                                "spec": {"type": "physical"}})
    assert gateway.member_client(itself) is host


@pytest.mark.realcluster
def test_apply_and_ensure_absent_on_a_real_cluster(kube, host):
    """The same writes against a real API server: create, no-op repeat, delete twice."""
    name = f"edge-gateway-check-{int(time.time())}"
    created = gateway.apply(host, configmap(name))
    again = gateway.apply(host, configmap(name))
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert [m["manager"] for m in again["metadata"]["managedFields"]] == ["edge-platform"]
    assert gateway.ensure_absent(host, "v1", "ConfigMap", name, "default") is True
    assert gateway.ensure_absent(host, "v1", "ConfigMap", name, "default") is False


def test_connection_secrets_never_appear_in_the_cluster_api(kube_clusters, platform, api):
    (edge,) = kube_clusters(1, tokens=["very-secret-token"])
    platform.apply(cluster_manifest("edge", {"kubernetesAPIEndpoint": edge.url, "token": "very-secret-token",
                                             "kubeconfig": yaml.safe_dump(edge.kubeconfig())}))
    admin = platform.user("root", superuser=True)
    client = api(admin)
    for url in (f"{CLUSTERS}/edge", CLUSTERS):
        response = client.get(url)
        assert response.status_code == 200
        assert b"very-secret-token" not in response.content and b"kubeconfig" not in response.content
