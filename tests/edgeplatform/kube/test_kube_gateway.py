"""The Kubernetes gateway against emulated clusters: idempotent writes, typed errors, retries, timeouts and
member clusters reached through their encrypted connections (secrets never logged, never shown)."""
from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import logging
import socket
import ssl
import sys
import threading
import time

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import override_settings
from kubernetes import config as kube_config
from kubernetes.client import Configuration

from clusters.models import Cluster
from edgeplatform import crypto
from edgeplatform import kube as gateway
from edgeplatform.kube import KubeError, KubeNotConfigured, KubeUnavailable
from edgeplatform.kube.connections import member_kubeconfig
from edgeplatform.kube.errors import KubeconfigRefused

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


# --- connections that must not run anything on the platform host ----------------------------------------------

def exec_kubeconfig(server: str, marker) -> dict:
    """A kubeconfig whose user is an exec plugin that creates ``marker`` and hands out a token."""
    credential = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {"token": "from-exec"}}
    script = f"import pathlib; pathlib.Path({str(marker)!r}).touch(); print({json.dumps(credential)!r})"
    return {"apiVersion": "v1", "kind": "Config", "current-context": "edge",
            "clusters": [{"name": "edge", "cluster": {"server": server}}],
            "users": [{"name": "edge", "user": {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
                "args": ["-c", script], "interactiveMode": "Never"}}}],
            "contexts": [{"name": "edge", "context": {"cluster": "edge", "user": "edge"}}]}


def with_user(document: dict, user: dict) -> dict:
    return {**document, "users": [{"name": "edge", "user": user}]}


def test_the_api_refuses_kubeconfigs_that_would_run_commands_or_read_files(platform, api, tmp_path):
    """GIVEN kubeconfigs with an exec plugin, an auth provider or local file paths, WHEN a Cluster carrying one is
    written, THEN it is 422 Invalid on spec.connection.kubeconfig, nothing is stored and nothing ran."""
    marker = tmp_path / "exec-ran"
    plugin = exec_kubeconfig("http://127.0.0.1:1", marker)
    client = api(platform.user("root", superuser=True))
    files = str(tmp_path / "some-file")
    refused = {
        "exec": yaml.safe_dump(plugin),
        "exec, base64": base64.b64encode(yaml.safe_dump(plugin).encode()).decode(),
        "auth-provider": yaml.safe_dump(with_user(plugin, {"auth-provider": {
            "name": "gcp", "config": {"cmd-path": "/bin/sh", "cmd-args": "-c true"}}})),
        "tokenFile": yaml.safe_dump(with_user(plugin, {"tokenFile": files})),
        "client certificate and key files": yaml.safe_dump(with_user(plugin, {"client-certificate": files,
                                                                             "client-key": files})),
        "certificate authority file": yaml.safe_dump({**with_user(plugin, {"token": "t"}), "clusters": [
            {"name": "edge", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority": files}}]}),
    }
    for what, kubeconfig in refused.items():
        response = client.post(CLUSTERS, cluster_manifest("edge", {"kubeconfig": kubeconfig}))
        assert response.status_code == 422, what
        causes = response.json()["details"]["causes"]
        assert [c["field"] for c in causes] == ["spec.connection.kubeconfig"], what
        assert "exec, auth-provider and file references are not allowed" in causes[0]["message"], what
    assert "users[0].user.exec: would run a command" in client.post(
        CLUSTERS, cluster_manifest("edge", {"kubeconfig": refused["exec"]})).json()["message"]
    assert not Cluster.objects.filter(name="edge").exists() and not marker.exists()
    # credentials embedded as data (and a token) are what a stored kubeconfig may hold
    embedded = {**with_user(plugin, {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5",
                                     "token": "t"}),
                "clusters": [{"name": "edge", "cluster": {"server": "https://127.0.0.1:1",
                                                          "certificate-authority-data": "Y2E="}}]}
    assert client.post(CLUSTERS, cluster_manifest("edge", {"kubeconfig": yaml.safe_dump(embedded)})).status_code == 201


def test_the_gateway_refuses_a_stored_kubeconfig_with_an_exec_plugin_and_never_runs_it(kube_clusters, platform,
                                                                                       tmp_path):
    """GIVEN a kubeconfig with an exec plugin stored before the write path checked kubeconfigs, WHEN the gateway
    builds a client or a kubeconfig file for Helm from it, THEN it refuses and the command never runs."""
    (edge,) = kube_clusters(1)
    marker = tmp_path / "exec-ran"
    document = exec_kubeconfig(edge.url, marker)
    cluster = platform.cluster("edge")
    Cluster.objects.filter(pk=cluster.pk).update(
        connection_secret=crypto.encrypt_json({"kubeconfig": yaml.safe_dump(document)}))
    cluster.refresh_from_db()
    with pytest.raises(KubeconfigRefused) as refused:
        gateway.member_client(cluster)
    assert "users[0].user.exec: would run a command on the platform host" in str(refused.value)
    assert isinstance(refused.value, KubeNotConfigured)  # callers that skip unconfigured clusters skip it too
    with pytest.raises(KubeconfigRefused):
        member_kubeconfig(cluster)  # the document Helm would be given
    assert not marker.exists()
    # the same document handed to the client's own loader does run the plugin: that is what was refused
    kube_config.load_kube_config_from_dict(document, client_configuration=Configuration(), persist_config=False)
    assert marker.exists()


def self_signed_certificate() -> tuple[bytes, bytes]:
    """A PEM certificate for 127.0.0.1 signed by its own key, and that key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge-test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
                   .not_valid_after(now + datetime.timedelta(hours=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    return (certificate.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


@pytest.fixture
def tls_server(tmp_path):
    """A TLS listener on 127.0.0.1 with a self-signed certificate; ``handshakes`` counts connections."""
    certificate, key = self_signed_certificate()
    (tmp_path / "tls.crt").write_bytes(certificate)
    (tmp_path / "tls.key").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    state = {"handshakes": 0, "stop": False, "url": f"https://127.0.0.1:{listener.getsockname()[1]}"}

    def serve():
        while not state["stop"]:
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            state["handshakes"] += 1
            connection.settimeout(2)
            try:
                with context.wrap_socket(connection, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass  # the client refuses our certificate: that is the point
            finally:
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield state
    state["stop"] = True
    thread.join(2)
    listener.close()


def test_a_tls_failure_is_retried_then_a_kube_error(tls_server, platform):
    """GIVEN a cluster whose API server presents a certificate no trusted CA signed, WHEN the gateway calls it,
    THEN the TLS failure is retried with backoff like any connection error and ends as a KubeUnavailable."""
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "current-context": "edge",
                  "clusters": [{"name": "edge", "cluster": {"server": tls_server["url"]}}],
                  "users": [{"name": "edge", "user": {"token": "t"}}],
                  "contexts": [{"name": "edge", "context": {"cluster": "edge", "user": "edge"}}]}
    cluster = platform.apply(cluster_manifest("edge", {"kubeconfig": yaml.safe_dump(kubeconfig)}))[0]
    with override_settings(**FAST_RETRIES):
        with pytest.raises(KubeUnavailable) as failed:
            gateway.get(gateway.member_client(cluster), "v1", "ConfigMap", "cfg", "default")
    assert failed.value.status == 0
    assert "the connection failed (TLS)" in str(failed.value) and "CERTIFICATE_VERIFY_FAILED" in str(failed.value)
    assert tls_server["handshakes"] == 1 + 3  # the first attempt and EDGE_KUBE_RETRIES more


def test_connection_fields_the_platform_cannot_use_are_refused_by_name(platform, api):
    """GIVEN connection credentials outside a kubeconfig other than a token, WHEN a Cluster carries them,
    THEN it is 422 naming each field instead of storing the cluster without them."""
    client = api(platform.user("root", superuser=True))
    response = client.post(CLUSTERS, cluster_manifest("edge", {
        "kubernetesAPIEndpoint": "https://10.0.0.1:6443", "clientCertificateData": "Y2VydA==",
        "clientKeyData": "a2V5", "password": "pw"}))
    assert response.status_code == 422
    causes = {c["field"]: c["message"] for c in response.json()["details"]["causes"]}
    assert set(causes) == {"spec.connection.clientCertificateData", "spec.connection.clientKeyData",
                           "spec.connection.password"}
    assert "client-certificate-data" in causes["spec.connection.clientCertificateData"]
    assert not Cluster.objects.filter(name="edge").exists()
