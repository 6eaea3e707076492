"""Cluster health: every cluster's connection checked (on arrival and on a period) against emulated API servers
with the real client: reachable → Ready with version and node count; refused credentials, DNS, TLS, refused
connections and timeouts → Ready=False with a reason a person understands; recovery; an offline cluster costs one
timeout and does not slow the others; expiring credentials; the figures on /metrics."""
from __future__ import annotations

import base64
import json
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client, override_settings

from clusters.controller import CONTROLLER
from clusters.models import Cluster
from edgeplatform.controllers import clock, engine

TIMEOUT = 0.5
FAST = {"EDGE_CLUSTER_HEALTH_TIMEOUT": TIMEOUT, "EDGE_CLUSTER_HEARTBEAT_INTERVAL": 300}


@pytest.fixture(autouse=True)
def _fast():
    with override_settings(**FAST):
        yield


def cluster(platform, name: str, connection: dict | None = None, **spec) -> Cluster:
    """A cluster written through the write path, as the system."""
    body = {"type": "physical", **spec}
    if connection is not None:
        body["connection"] = connection
    platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": name},
                    "spec": body})
    return Cluster.objects.get(name=name)


def check(obj: Cluster) -> tuple[engine.Outcome, Cluster, float]:
    """One health check; the outcome, the re-read row and how long it took."""
    started = time.perf_counter()
    outcome = engine.reconcile(CONTROLLER, obj.pk)
    return outcome, Cluster.objects.get(pk=obj.pk), time.perf_counter() - started


def conditions(obj: Cluster) -> dict[str, dict]:
    return {item["type"]: item for item in obj.status.get("conditions") or []}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_reachable_cluster_is_ready_with_its_version_node_count_and_heartbeat(kube_clusters, platform):
    # GIVEN an emulated member cluster with three nodes, imported with its endpoint
    (member,) = kube_clusters(1)
    for index in range(3):
        member.add_node(f"edge-{index}")
    obj = cluster(platform, "edge", {"kubernetesAPIEndpoint": member.url})
    # WHEN it is checked
    outcome, obj, _ = check(obj)
    # THEN it is Ready and Reachable, with the version the server reports and its node count
    assert outcome.result == "success"
    status = obj.status
    assert status["phase"] == "Ready" and status["nodeCount"] == 3
    assert status["kubernetesVersion"].startswith("v1.")
    assert datetime.fromisoformat(status["lastHeartbeatTime"].replace("Z", "+00:00")) > datetime.now(UTC) - \
        timedelta(minutes=1)
    found = conditions(obj)
    assert found["Ready"]["status"] == "True" and found["Ready"]["reason"] == "Healthy"
    assert found["Reachable"]["status"] == "True" and found["Reachable"]["reason"] == "Connected"
    assert obj.ready and obj.phase == "Ready"
    assert member.requests.count(path="/version") == 1


def test_a_refused_token_is_unauthorized_and_the_right_one_recovers(kube_clusters, platform):
    # GIVEN a member that demands a token, imported with a wrong one
    (member,) = kube_clusters(1, tokens=["s3cret"])
    obj = cluster(platform, "edge", {"kubernetesAPIEndpoint": member.url, "token": "wrong"})
    # WHEN it is checked
    outcome, obj, _ = check(obj)
    # THEN it answered but refused the credentials: Reachable, not Ready, retried with backoff
    assert outcome.result == "retry" and outcome.retry_in > 0
    found = conditions(obj)
    assert found["Ready"]["status"] == "False" and found["Ready"]["reason"] == "Unauthorized"
    assert "credentials" in found["Ready"]["message"]
    assert found["Reachable"]["status"] == "True"
    assert obj.status["phase"] == "Failed" and not obj.ready
    # WHEN the right token is stored
    obj = cluster(platform, "edge", {"kubernetesAPIEndpoint": member.url, "token": "s3cret"})
    outcome, obj, _ = check(obj)
    # THEN it is Ready
    assert outcome.result == "success" and conditions(obj)["Ready"]["status"] == "True"


@pytest.mark.parametrize("endpoint, reason, words", [
    ("https://no-such-host.invalid:6443", "DNSNameNotFound", "DNS name was not found"),
    ("http://127.0.0.1:{free}", "ConnectionRefused", "refused the connection"),
    ("https://127.0.0.1:{plain}", "TLSHandshakeFailed", "TLS handshake"),
])
def test_an_unreachable_cluster_says_why(kube_clusters, platform, endpoint, reason, words):
    # GIVEN a cluster whose endpoint has no such name, nothing listening, or a plain-http server behind https
    (member,) = kube_clusters(1)
    url = endpoint.format(free=free_port(), plain=member.url.rsplit(":", 1)[-1])
    obj = cluster(platform, "edge", {"kubernetesAPIEndpoint": url})
    # WHEN it is checked
    outcome, obj, seconds = check(obj)
    # THEN it is neither Reachable nor Ready, with a reason and message a person understands, within the timeout
    assert outcome.result == "retry"
    found = conditions(obj)
    assert found["Reachable"]["status"] == "False" and found["Reachable"]["reason"] == reason
    assert words in found["Reachable"]["message"]
    assert found["Ready"]["status"] == "False" and found["Ready"]["reason"] == reason
    assert obj.status["phase"] == "Unreachable"
    assert seconds < TIMEOUT + 1


def test_an_offline_cluster_costs_one_timeout_does_not_slow_the_other_and_recovers(kube_clusters, platform):
    # GIVEN two sites, the second of which stops answering (its next request is held for 1.5 s)
    answering, offline = kube_clusters(2)
    first = cluster(platform, "site-a", {"kubernetesAPIEndpoint": answering.url})
    second = cluster(platform, "site-b", {"kubernetesAPIEndpoint": offline.url})
    offline.delay_next(1, seconds=1.5)
    # WHEN both are checked
    slow_outcome, second, slow = check(second)
    quick_outcome, first, quick = check(first)
    # THEN the offline one gave up after one timeout, with no retry inside the check, and is Ready=False Timeout
    assert slow_outcome.result == "retry"
    assert TIMEOUT * 0.9 <= slow < TIMEOUT + 0.5
    found = conditions(second)
    assert (found["Reachable"]["status"], found["Reachable"]["reason"]) == ("False", "Timeout")
    assert found["Ready"]["status"] == "False" and "did not answer in time" in found["Ready"]["message"]
    assert offline.requests.count(path="/version") == 1
    # AND the answering one is Ready, quickly
    assert quick_outcome.result == "success" and conditions(first)["Ready"]["status"] == "True"
    assert quick < TIMEOUT
    # WHEN the offline site answers again
    time.sleep(max(0.0, 1.6 - slow - quick))
    outcome, second, _ = check(second)
    # THEN it recovers
    assert outcome.result == "success"
    assert conditions(second)["Ready"]["status"] == "True" and conditions(second)["Reachable"]["status"] == "True"


def test_a_check_that_finds_nothing_new_writes_nothing_until_the_heartbeat_is_due(kube_clusters, platform,
                                                                                   monkeypatch):
    # GIVEN a Ready cluster
    (member,) = kube_clusters(1)
    obj = cluster(platform, "edge", {"kubernetesAPIEndpoint": member.url})
    _, obj, _ = check(obj)
    version, heartbeat = obj.resource_version, obj.status["lastHeartbeatTime"]
    # WHEN it is checked again a minute later
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + timedelta(seconds=60))
    _, obj, _ = check(obj)
    # THEN its status was not written
    assert obj.resource_version == version and obj.status["lastHeartbeatTime"] == heartbeat
    # WHEN the heartbeat interval has passed
    monkeypatch.setattr(clock, "now", lambda: real() + timedelta(seconds=301))
    _, obj, _ = check(obj)
    # THEN the heartbeat moved (one write)
    assert obj.resource_version == version + 1 and obj.status["lastHeartbeatTime"] > heartbeat


def test_clusters_without_a_connection_and_virtual_clusters_are_pending(platform):
    # GIVEN a physical cluster without a connection, and a virtual cluster (no host cluster to run it on)
    bare = cluster(platform, "bare")
    virtual = cluster(platform, "vc", type="virtual")
    # WHEN they are checked
    _, bare, _ = check(bare)
    _, virtual, _ = check(virtual)
    # THEN both are Pending and not Ready, each with its reason
    assert bare.status["phase"] == "Pending" and conditions(bare)["Ready"]["reason"] == "NoConnection"
    assert "spec.connection" in conditions(bare)["Ready"]["message"]
    assert virtual.status["phase"] == "Pending"
    assert conditions(virtual)["Ready"]["reason"] == "NoHostCluster"
    assert "Reachable" not in conditions(virtual)


def test_a_cluster_saved_through_the_write_path_is_checked_after_commit(kube_clusters, platform, eager_celery,
                                                                        django_capture_on_commit_callbacks):
    # GIVEN an emulated member
    (member,) = kube_clusters(1)
    # WHEN its Cluster is written and the transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        cluster(platform, "edge", {"kubernetesAPIEndpoint": member.url})
    # THEN it was checked at once
    obj = Cluster.objects.get(name="edge")
    assert obj.status["phase"] == "Ready" and member.requests.count(path="/version") == 1


def certificate(not_after: datetime) -> tuple[str, str]:
    """A self-signed client certificate valid until ``not_after`` and its key, base64 PEM (kubeconfig data)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge-admin")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_after - timedelta(days=365))
            .not_valid_after(not_after).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return base64.b64encode(pem).decode(), base64.b64encode(key_pem).decode()


def kubeconfig(server: str, cert: str, key: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "edge",
                       "clusters": [{"name": "edge", "cluster": {"server": server}}],
                       "users": [{"name": "admin", "user": {"client-certificate-data": cert,
                                                            "client-key-data": key}}],
                       "contexts": [{"name": "edge", "context": {"cluster": "edge", "user": "admin"}}]})


def test_a_client_certificate_near_its_expiry_is_reported_and_an_expired_one_is_not_ready(kube_clusters, platform):
    # GIVEN a cluster imported with a kubeconfig whose client certificate expires in 10 days
    (member,) = kube_clusters(1)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    obj = cluster(platform, "edge", {"kubeconfig": kubeconfig(member.url, *certificate(soon))})
    # WHEN it is checked
    outcome, obj, _ = check(obj)
    # THEN it is Ready, and CredentialsExpiring says when
    assert outcome.result == "success" and conditions(obj)["Ready"]["status"] == "True"
    expiring = conditions(obj)["CredentialsExpiring"]
    assert expiring["status"] == "True" and expiring["reason"] == "CredentialsExpireSoon"
    assert soon.strftime("%Y-%m-%dT%H:%M:%SZ") in expiring["message"] and "client certificate" in expiring["message"]
    # WHEN the certificate has expired
    past = datetime.now(UTC) - timedelta(days=1)
    member.requests.clear()
    obj = cluster(platform, "edge", {"kubeconfig": kubeconfig(member.url, *certificate(past))})
    outcome, obj, _ = check(obj)
    # THEN it is not Ready, CredentialsExpired, and the API server was not asked
    assert outcome.result == "retry"
    assert conditions(obj)["Ready"]["status"] == "False" and conditions(obj)["Ready"]["reason"] == "CredentialsExpired"
    assert member.requests.count(path="/version") == 0


def test_a_token_with_a_far_expiry_is_valid(kube_clusters, platform):
    # GIVEN a JWT-shaped token that expires in a year
    (member,) = kube_clusters(1, tokens=[None])
    exp = int((datetime.now(UTC) + timedelta(days=365)).timestamp())
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "edge", "exp": exp}).encode()).decode().rstrip("=")
    obj = cluster(platform, "edge", {"kubernetesAPIEndpoint": member.url, "token": f"eyJhbGciOiJub25lIn0.{payload}.x"})
    # WHEN it is checked
    _, obj, _ = check(obj)
    # THEN CredentialsExpiring is False, naming the date
    expiring = conditions(obj)["CredentialsExpiring"]
    assert expiring["status"] == "False" and expiring["reason"] == "CredentialsValid" and "token" in expiring["message"]


def scrape() -> dict[str, float]:
    out = {}
    for line in Client().get("/metrics").content.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_clusters_by_type_and_status_are_on_metrics(kube_clusters, platform):
    # GIVEN a Ready physical cluster, an unreachable one and a virtual one waiting
    (member,) = kube_clusters(1)
    check(cluster(platform, "up", {"kubernetesAPIEndpoint": member.url}))
    check(cluster(platform, "down", {"kubernetesAPIEndpoint": f"http://127.0.0.1:{free_port()}"}))
    check(cluster(platform, "vc", type="virtual"))
    # WHEN /metrics is scraped
    samples = scrape()
    # THEN the clusters are counted by type and status
    assert samples['cluster_total{type="physical"}'] == 2 and samples['cluster_total{type="virtual"}'] == 1
    assert samples['cluster_status{status="running"}'] == 1
    assert samples['cluster_status{status="failed"}'] == 1
    assert samples['cluster_status{status="creating"}'] == 1


def test_credentials_without_the_right_to_read_nodes_are_forbidden(kube_clusters, platform):
    # GIVEN a member that authenticates the platform but forbids it to list nodes (RBAC: 403)
    (member,) = kube_clusters(1)
    obj = cluster(platform, "edge", {"kubernetesAPIEndpoint": member.url})
    member.fail_next(1, status=403, path_contains="/api/v1/nodes")
    # WHEN it is checked
    outcome, obj, _ = check(obj)
    # THEN it answered (Reachable) but is not Ready: Forbidden, in words, retried later
    assert outcome.result == "retry"
    found = conditions(obj)
    assert found["Reachable"]["status"] == "True"
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "Forbidden")
    assert found["Ready"]["message"].startswith("403 Forbidden: the credentials may not read the cluster")
    assert obj.status["phase"] == "Failed" and not obj.ready
    # WHEN the member allows it again (the role was granted)
    outcome, obj, _ = check(obj)
    # THEN it is Ready
    assert outcome.result == "success" and conditions(obj)["Ready"]["status"] == "True"


def test_an_untrusted_tls_certificate_is_reported_and_the_right_ca_makes_it_ready(kube_clusters, platform):
    # GIVEN an https member with a self-signed serving certificate, imported by its endpoint without its CA
    (member,) = kube_clusters(1, tls=True)
    assert member.url.startswith("https://")
    obj = cluster(platform, "edge", {"kubernetesAPIEndpoint": member.url})
    # WHEN it is checked
    outcome, obj, _ = check(obj)
    # THEN it is neither Reachable nor Ready: the certificate is not trusted, and the message says what to add
    assert outcome.result == "retry"
    found = conditions(obj)
    assert (found["Reachable"]["status"], found["Reachable"]["reason"]) == ("False", "TLSCertificateNotTrusted")
    assert "certificate-authority-data" in found["Ready"]["message"]
    assert obj.status["phase"] == "Unreachable"
    # WHEN its kubeconfig, which carries the CA, is stored
    obj = cluster(platform, "edge", {"kubeconfig": json.dumps(member.kubeconfig())})
    outcome, obj, _ = check(obj)
    # THEN it is Ready
    assert outcome.result == "success" and conditions(obj)["Ready"]["status"] == "True"


def test_a_token_rotated_on_the_member_is_unauthorized_until_the_new_one_is_stored(kube_clusters, platform):
    # GIVEN a Ready cluster reached with a token
    (member,) = kube_clusters(1, tokens=["old-token"])
    obj = cluster(platform, "edge", {"kubernetesAPIEndpoint": member.url, "token": "old-token"})
    assert check(obj)[0].result == "success"
    generation = Cluster.objects.get(pk=obj.pk).generation
    # WHEN the member's credentials are rotated
    member.token = "new-token"
    outcome, obj, _ = check(obj)
    # THEN the next check is refused: Unauthorized, not Ready
    assert outcome.result == "retry"
    assert (conditions(obj)["Ready"]["status"], conditions(obj)["Ready"]["reason"]) == ("False", "Unauthorized")
    # WHEN the new token is stored (the spec as stored is unchanged: the token is kept encrypted apart)
    obj = cluster(platform, "edge", {"kubernetesAPIEndpoint": member.url, "token": "new-token"})
    # THEN the generation moved, and the cluster is Ready again
    assert obj.generation == generation + 1
    outcome, obj, _ = check(obj)
    assert outcome.result == "success" and conditions(obj)["Ready"]["status"] == "True"
    # AND storing the same token again writes nothing
    version = obj.resource_version
    obj = cluster(platform, "edge", {"kubernetesAPIEndpoint": member.url, "token": "new-token"})
    assert (obj.resource_version, obj.generation) == (version, generation + 1)


def test_a_cluster_failed_for_good_is_checked_again_once_its_kubeconfig_is_fixed(kube_clusters, platform):
    # GIVEN a cluster whose stored kubeconfig is unusable (no context names a cluster): failed for good
    (member,) = kube_clusters(1)
    broken = json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "nowhere",
                         "clusters": [], "users": [], "contexts": []})
    obj = cluster(platform, "edge", {"kubeconfig": broken})
    outcome, obj, _ = check(obj)
    assert outcome.result == "permanent"
    assert conditions(obj)["Ready"]["reason"] == "InvalidConnection"
    assert check(obj)[0].result == "skipped"  # nothing to retry while the connection stays the same
    # WHEN a working kubeconfig is stored: the spec the platform keeps is the same (the kubeconfig is a secret)
    before = obj.spec
    obj = cluster(platform, "edge", {"kubeconfig": json.dumps(member.kubeconfig())})
    assert obj.spec == before
    # THEN the connection change moved the generation, and the cluster is checked again and Ready
    outcome, obj, _ = check(obj)
    assert outcome.result == "success" and conditions(obj)["Ready"]["status"] == "True"
    assert obj.status["observedGeneration"] == obj.generation
