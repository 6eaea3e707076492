"""Joining edge nodes: join tokens of a node group through the API (issue, list, revoke, rotate; hash-only storage;
the bootstrap token on an OpenYurt member), nodes that register with a token pending until approved (labelled on
the member and in the group), expired and revoked tokens refused, and who may do what. The member is an emulated
API server over HTTP; nodes arrive through the member sync, as in production."""
from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import yaml
from django.db import connection
from django.test import override_settings

from clusters.member_sync import sync_cluster
from clusters.models import Cluster, JoinToken, Node, NodeGroup, NodeJoin
from clusters.signals import node_decommissioned
from edgeplatform import kube as gateway
from edgeplatform.controllers import clock
from edgeplatform.kube import operations
from iam.audit.models import AuditEvent

API = "scope.theriseunion.io/v1alpha1"
BASE = f"/oapis/{API}/nodegroups"


@pytest.fixture
def site(kube_clusters, platform, api, eager_celery):
    """Member cluster ``edge`` (emulated) with node group ``line-1``; users root (admin), ops (node managers of
    line-1 through its admin role) and guest (viewer of line-1)."""
    (member,) = kube_clusters(1)

    class Site:
        kube = member

        def cluster(self, runtime: str) -> Cluster:
            return platform.apply({"apiVersion": API, "kind": "Cluster", "metadata": {"name": "edge"}, "spec": {
                "type": "physical", "edgeRuntime": {"type": runtime},
                "connection": {"type": "direct", "kubeconfig": yaml.safe_dump(member.kubeconfig())}}})[0]

        def join(self, name: str, labels: dict) -> Node | None:
            """A node registers on the member; the member sync brings it in (and its admission runs)."""
            member.add_node(name, labels=labels)
            sync_cluster(Cluster.objects.get(name="edge"))
            return Node.objects.filter(name=name).first()

    s = Site()
    s.edge = s.cluster("openyurt")
    platform.nodegroup("line-1", "edge")
    platform.user("root", superuser=True)
    platform.user("ops")
    platform.user("guest")
    platform.bind("ops-line-1", "nodegroup-admin", "nodegroup", "line-1", cluster="edge", users=("ops",))
    platform.bind("guest-line-1", "nodegroup-viewer", "nodegroup", "line-1", cluster="edge", users=("guest",))
    from iam.models import User

    s.root, s.ops, s.guest = (api(User.objects.get(name=n)) for n in ("root", "ops", "guest"))
    return s


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def issue(client, group="line-1", **spec):
    return client.post(f"{BASE}/{group}/jointokens", {"apiVersion": API, "kind": "JoinTokenRequest", "spec": spec})


def bootstrap_secret(kube, token_id: str):
    return kube.object("secrets", f"bootstrap-token-{token_id}", "kube-system")


def test_an_openyurt_token_is_a_bootstrap_token_of_the_member_and_only_its_hash_is_kept(site, committed):
    # WHEN a node group admin issues a token for an hour
    with committed():
        answer = issue(site.ops, ttlSeconds=3600, description="line 1 rollout")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    token_id, secret = body["id"], body["secret"]
    # THEN the answer has the ready-to-paste yurtadm command with the API server address, the token and the labels
    server = site.kube.kubeconfig()["clusters"][0]["cluster"]["server"].removeprefix("http://").rstrip("/")
    assert body["command"] == (
        f"yurtadm join {server} --token={token_id}.{secret} --node-type=edge "
        f"--discovery-token-unsafe-skip-ca-verification --namespace=kube-system "
        f"--node-labels=theriseunion.io/nodegroup-request=line-1,theriseunion.io/join-token={token_id}")
    # AND the member holds the bootstrap token as kube-apiserver reads it
    stored = bootstrap_secret(site.kube, token_id)
    data = {key: base64.b64decode(value).decode() for key, value in stored["data"].items()}
    assert stored["type"] == "bootstrap.kubernetes.io/token"
    assert data["token-id"] == token_id and data["token-secret"] == secret
    assert data["usage-bootstrap-authentication"] == "true"
    assert data["auth-extra-groups"] == "system:bootstrappers:kubeadm:default-node-token"
    assert data["expiration"] == body["expires"]
    # AND the platform keeps a hash, never the secret: not in its database, not in the list, not in the audit log
    row = JoinToken.objects.get(token_id=token_id)
    assert row.secret_hash != secret and len(row.secret_hash) == 64
    with connection.cursor() as cursor:
        for table in ("clusters_jointoken", "audit_auditevent"):
            cursor.execute(f"SELECT * FROM {table}")
            assert secret not in repr(cursor.fetchall())
    listed = site.ops.get(f"{BASE}/line-1/jointokens").json()
    assert [item["id"] for item in listed["items"]] == [token_id]
    assert secret not in repr(listed) and "command" not in listed["items"][0]
    assert listed["items"][0]["phase"] == "Valid" and listed["items"][0]["description"] == "line 1 rollout"
    assert AuditEvent.objects.filter(resource="jointokens", name=token_id, verb="create").exists()


def test_revoke_removes_the_bootstrap_token_and_rotate_replaces_it(site, committed):
    with committed():
        first = issue(site.ops).json()
    # WHEN the token is rotated
    with committed():
        rotated = site.ops.post(f"{BASE}/line-1/jointokens/{first['id']}/rotate", {})
    assert rotated.status_code == 201, rotated.json()
    second = rotated.json()
    # THEN the old one is revoked (gone from the member) and the new one is there, with the same lifetime
    assert second["id"] != first["id"] and second["secret"] != first["secret"]
    assert bootstrap_secret(site.kube, first["id"]) is None
    assert bootstrap_secret(site.kube, second["id"]) is not None
    phases = {item["id"]: item["phase"] for item in site.ops.get(f"{BASE}/line-1/jointokens").json()["items"]}
    assert phases == {first["id"]: "Revoked", second["id"]: "Valid"}
    # WHEN the new one is revoked THEN its bootstrap token is gone too, and the revocation is audited
    with committed():
        revoked = site.ops.delete(f"{BASE}/line-1/jointokens/{second['id']}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "Success"
    assert bootstrap_secret(site.kube, second["id"]) is None
    assert AuditEvent.objects.filter(resource="jointokens", name=second["id"], verb="delete").exists()


def test_a_member_that_does_not_answer_issues_nothing(site):
    site.kube.fail_next(20, status=503)
    with override_settings(EDGE_KUBE_RETRIES=0):
        gateway.forget_clients()
        answer = issue(site.ops)
    assert answer.status_code == 503, answer.json()
    assert not JoinToken.objects.exists()


def test_a_member_that_times_out_issues_nothing(site):
    # GIVEN a member whose API server holds the bootstrap token's write longer than the client waits
    site.kube.delay_next(1, 2, method="PATCH", path_contains="bootstrap-token-", status=503)
    with override_settings(EDGE_KUBE_RETRIES=0, EDGE_KUBE_READ_TIMEOUT=0.5):
        gateway.forget_clients()
        answer = issue(site.ops)
    gateway.forget_clients()
    # THEN the answer is 503, and neither the platform nor the member holds a token
    assert answer.status_code == 503, answer.json()
    assert not JoinToken.objects.exists()
    assert not [s for s in site.kube.objects("secrets", namespace="kube-system")
                if s["metadata"]["name"].startswith("bootstrap-token-")]


def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(site):
    for body, field in (({"ttlSeconds": 10}, "ttlSeconds"), ({"ttlSeconds": 10**9}, "ttlSeconds"),
                        ({"ttlSeconds": "soon"}, "ttlSeconds"), ({"colour": "red"}, "spec.colour")):
        answer = issue(site.ops, **body)
        assert answer.status_code == 422, (body, answer.json())
        assert answer.json()["details"]["causes"][0]["field"] == field
    assert site.ops.post(f"{BASE}/line-1/jointokens", {"ttlSeconds": 60}).json()["details"]["causes"][0][
        "field"] == "spec"
    assert not JoinToken.objects.exists()


def test_a_cluster_without_an_edge_runtime_gets_no_tokens(site):
    site.cluster("none")
    answer = issue(site.ops)
    assert answer.status_code == 409 and "no edge runtime" in answer.json()["message"]


def test_kubeedge_join_command_carries_cloudcores_token_and_the_cloud_address(site):
    # GIVEN a KubeEdge cluster whose CloudCore wrote its token
    site.cluster("kubeedge")
    client = gateway.member_client(Cluster.objects.get(name="edge"))
    operations.ensure_namespace(client, "kubeedge")
    operations.apply(client, {"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "tokensecret", "namespace": "kubeedge"}, "data": {
        "tokendata": base64.b64encode(b"cafe.eyJhbGciOi.signed").decode()}})
    # WHEN a token is issued
    body = issue(site.ops).json()
    # THEN keadm join names CloudCore's address and port, its token, the version and the labels
    assert body["command"] == (
        "keadm join --cloudcore-ipport=127.0.0.1:10000 --token=cafe.eyJhbGciOi.signed --kubeedge-version=v1.20.0 "
        f"--labels=theriseunion.io/nodegroup-request=line-1,theriseunion.io/join-token={body['id']}")
    assert "cafe.eyJhbGciOi.signed" not in repr(site.ops.get(f"{BASE}/line-1/jointokens").json())


def test_kubeedge_before_cloudcore_wrote_its_token_is_a_409_that_says_so(site):
    site.cluster("kubeedge")
    answer = issue(site.ops)
    assert answer.status_code == 409 and "tokensecret" in answer.json()["message"]


def test_a_node_that_joins_is_pending_until_approved_then_labelled_on_the_member_and_in_the_group(site, committed):
    with committed():
        token = issue(site.ops).json()
    labels = {"theriseunion.io/nodegroup-request": "line-1", "theriseunion.io/join-token": token["id"],
              "openyurt.io/is-edge-worker": "true"}
    # WHEN a node registers with the token's labels
    with committed():
        node = site.join("edge-node-1", labels)
    # THEN it is pending for the group, outside it
    pending = site.ops.get(f"{BASE}/line-1/joinrequests?phase=Pending").json()["items"]
    assert [(item["node"], item["phase"], item["token"]) for item in pending] == [
        ("edge-node-1", "Pending", token["id"])]
    assert node.nodegroup_id is None
    # WHEN the group admin approves it
    with committed():
        approved = site.ops.post(f"{BASE}/line-1/joinrequests/edge-node-1/approve", {})
    assert approved.status_code == 200, approved.json()
    assert approved.json()["phase"] == "Approved" and approved.json()["decidedBy"] == "ops"
    # THEN the node is in the group on the platform and labelled on the member; the approval is audited
    node.refresh_from_db()
    assert node.nodegroup.name == "line-1"
    assert site.kube.object("nodes", "edge-node-1")["metadata"]["labels"]["theriseunion.io/nodegroup"] == "line-1"
    assert AuditEvent.objects.filter(verb="approve", name="edge-node-1", actor="ops").exists()
    # AND the next sync leaves it there, and the token lists the node it brought
    with committed():
        sync_cluster(Cluster.objects.get(name="edge"))
    assert Node.objects.get(name="edge-node-1").nodegroup.name == "line-1"
    assert site.ops.get(f"{BASE}/line-1/jointokens").json()["items"][0]["nodes"] == ["edge-node-1"]


def test_a_group_that_auto_approves_takes_the_node_at_once(site, committed, platform):
    group = NodeGroup.objects.get(name="line-1")
    manifest = {"apiVersion": API, "kind": "NodeGroup", "metadata": {
        "name": "line-1", "labels": {"scope.theriseunion.io/cluster": "edge"},
        "annotations": {"theriseunion.io/auto-approve-nodes": "true"}}, "spec": group.spec}
    platform.apply(manifest)
    with committed():
        token = issue(site.ops).json()
    with committed():
        site.join("edge-node-2", {"theriseunion.io/join-token": token["id"],
                                  "theriseunion.io/nodegroup-request": "line-1"})
    assert Node.objects.get(name="edge-node-2").nodegroup.name == "line-1"
    assert site.kube.object("nodes", "edge-node-2")["metadata"]["labels"]["theriseunion.io/nodegroup"] == "line-1"
    assert NodeJoin.objects.get(node_name="edge-node-2").reason == "AutoApproved"


@override_settings(EDGE_JOIN_AUTO_APPROVE=True)
def test_expired_and_revoked_tokens_cannot_join(site, committed, monkeypatch):
    # GIVEN a token that expired, and one that was revoked (auto-approve on: only the token can stop a node)
    with committed():
        old = issue(site.ops, ttlSeconds=60).json()
        gone = issue(site.ops).json()
        site.ops.delete(f"{BASE}/line-1/jointokens/{gone['id']}")
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + timedelta(minutes=5))
    from clusters.join_tokens import expire

    # THEN the revoked token's bootstrap token is gone from the member, and the expired one's once the sweep ran:
    # the member's kube-apiserver has nothing to accept them with
    assert bootstrap_secret(site.kube, gone["id"]) is None
    assert expire() == 1 and bootstrap_secret(site.kube, old["id"]) is None
    # WHEN nodes come anyway with those labels
    with committed():
        site.join("late-node", {"theriseunion.io/join-token": old["id"]})
        site.join("revoked-node", {"theriseunion.io/join-token": gone["id"]})
        site.join("forged-node", {"theriseunion.io/join-token": "zzzzzz"})
    # THEN the platform rejects them, says why, and leaves them outside the group
    decided = {item["node"]: (item["phase"], item["reason"])
               for item in site.root.get(f"{BASE}/line-1/joinrequests").json()["items"]}
    assert decided == {"late-node": ("Rejected", "TokenExpired"), "revoked-node": ("Rejected", "TokenRevoked")}
    assert NodeJoin.objects.get(node_name="forged-node").reason == "TokenUnknown"
    assert not Node.objects.filter(nodegroup__name="line-1").exists()
    assert "theriseunion.io/nodegroup" not in site.kube.object("nodes", "late-node")["metadata"]["labels"]
    # AND approving one by hand is refused
    refused = site.ops.post(f"{BASE}/line-1/joinrequests/late-node/approve", {})
    assert refused.status_code == 409 and "TokenExpired" in refused.json()["message"]


def test_a_pending_node_whose_token_expires_before_approval_is_rejected_on_approval(site, committed, monkeypatch):
    with committed():
        token = issue(site.ops, ttlSeconds=60).json()
    with committed():
        site.join("slow-node", {"theriseunion.io/join-token": token["id"]})
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + timedelta(minutes=5))
    refused = site.ops.post(f"{BASE}/line-1/joinrequests/slow-node/approve", {})
    assert refused.status_code == 409 and "expired" in refused.json()["message"]
    assert NodeJoin.objects.get(node_name="slow-node").phase == "Rejected"


def test_who_may(site, committed, platform):
    # GIVEN a viewer of the group and a user with no rights there
    platform.user("stranger")
    from iam.models import User
    from tests.support import ApiClient

    stranger = ApiClient.for_user(User.objects.get(name="stranger"))
    with committed():
        token = issue(site.ops).json()
        site.join("n-1", {"theriseunion.io/join-token": token["id"]})
    # THEN the viewer may list but not issue, revoke or approve; the stranger does not see the group at all
    assert site.guest.get(f"{BASE}/line-1/jointokens").status_code == 200
    assert issue(site.guest).status_code == 403
    assert site.guest.delete(f"{BASE}/line-1/jointokens/{token['id']}").status_code == 403
    assert site.guest.post(f"{BASE}/line-1/joinrequests/n-1/approve", {}).status_code == 403
    assert stranger.get(f"{BASE}/line-1/jointokens").status_code == 404
    assert issue(stranger).status_code == 404
    assert stranger.post(f"{BASE}/line-1/joinrequests/n-1/approve", {}).status_code == 404
    # AND nothing changed; the denials are audited
    assert JoinToken.objects.count() == 1 and NodeJoin.objects.get(node_name="n-1").phase == "Pending"
    assert AuditEvent.objects.filter(result="denied", actor="guest").exists()
    # AND a reject by the admin keeps the node out for good
    assert site.ops.post(f"{BASE}/line-1/joinrequests/n-1/reject", {}).json()["phase"] == "Rejected"
    assert site.ops.post(f"{BASE}/line-1/joinrequests/n-1/approve", {}).status_code == 409


def test_a_decommissioned_node_takes_its_join_credentials_with_it(site, committed):
    with committed():
        token = issue(site.ops).json()
        node = site.join("n-2", {"theriseunion.io/join-token": token["id"]})
        site.ops.post(f"{BASE}/line-1/joinrequests/n-2/approve", {})
    # WHEN the node is decommissioned
    with committed():
        node_decommissioned.send(sender=Node, node=node, actor="ops")
    # THEN its token is revoked (and its bootstrap token gone from the member), its join record gone
    row = JoinToken.objects.get(token_id=token["id"])
    assert row.revoked is not None
    assert bootstrap_secret(site.kube, token["id"]) is None
    assert not NodeJoin.objects.filter(node_name="n-2").exists()


def test_a_rejected_node_that_joins_again_with_a_new_token_is_judged_afresh(site, committed):
    # GIVEN a node rejected for its revoked token
    with committed():
        old = issue(site.ops).json()
        site.ops.delete(f"{BASE}/line-1/jointokens/{old['id']}")
        site.join("n-3", {"theriseunion.io/join-token": old["id"]})
    assert NodeJoin.objects.get(node_name="n-3").reason == "TokenRevoked"
    # WHEN it is joined again with a new token (its label changes on the member)
    with committed():
        new = issue(site.ops).json()
    client = gateway.member_client(Cluster.objects.get(name="edge"))
    operations.merge_patch(client, "v1", "Node", "n-3", {"metadata": {"labels": {
        "theriseunion.io/join-token": new["id"]}}})
    with committed():
        sync_cluster(Cluster.objects.get(name="edge"))
    # THEN it is pending again, and can be approved
    join = NodeJoin.objects.get(node_name="n-3")
    assert (join.phase, join.token_label) == ("Pending", new["id"])
    with committed():
        assert site.ops.post(f"{BASE}/line-1/joinrequests/n-3/approve", {}).status_code == 200
    assert Node.objects.get(name="n-3").nodegroup.name == "line-1"
    # AND once the member no longer has the node, its join record goes with its row
    operations.ensure_absent(client, "v1", "Node", "n-3")
    with committed():
        sync_cluster(Cluster.objects.get(name="edge"))
    assert not NodeJoin.objects.filter(node_name="n-3").exists()
