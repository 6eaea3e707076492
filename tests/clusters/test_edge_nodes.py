"""The Edge nodes console page: the cluster's runtime health, a join command shown once, the token list with
revoke and rotate, joining nodes to approve; buttons only where the engine allows (the services behind them are
tested in ``test_join_tokens``)."""
from __future__ import annotations

import pytest
import yaml
from django.test import Client

from clusters.member_sync import sync_cluster
from clusters.models import Cluster, JoinToken, Node

API = "scope.theriseunion.io/v1alpha1"
PAGE = "/console/edge-nodes/"


@pytest.fixture
def fleet(kube_clusters, platform, eager_celery, django_capture_on_commit_callbacks):
    (member,) = kube_clusters(1)
    platform.apply({"apiVersion": API, "kind": "Cluster", "metadata": {"name": "edge"}, "spec": {
        "type": "physical", "edgeRuntime": {"type": "openyurt"},
        "connection": {"type": "direct", "kubeconfig": yaml.safe_dump(member.kubeconfig())}}})
    platform.nodegroup("line-1", "edge")
    for name in ("root", "guest"):
        platform.user(name, superuser=name == "root")
    platform.bind("guest-line-1", "nodegroup-viewer", "nodegroup", "line-1", cluster="edge", users=("guest",))
    member.committed = lambda: django_capture_on_commit_callbacks(execute=True)
    return member


def client(name: str) -> Client:
    from iam.models import User

    browser = Client()
    browser.force_login(User.objects.get(name=name))
    return browser


def test_the_command_is_shown_once_and_the_node_is_approved_from_the_page(fleet):
    root = client("root")
    page = root.get(f"{PAGE}?group=line-1")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="edge-runtime"' in html and "openyurt" in html and "Generate yurtadm join command" in html
    # WHEN root generates a command
    with fleet.committed():
        answer = root.post(f"{PAGE}?group=line-1", {"action": "issue", "ttl_hours": "2", "description": "rack 4"})
    html = answer.content.decode()
    token = JoinToken.objects.get()
    # THEN the page shows it once (not cached), with a copy button
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
    assert 'id="join-command"' in html and f"--token={token.token_id}." in html and 'id="copy-join-command"' in html
    assert f"--token={token.token_id}." not in root.get(f"{PAGE}?group=line-1").content.decode()
    # WHEN a node registers with it THEN it is listed with Approve; approving puts it in the group
    with fleet.committed():
        fleet.add_node("edge-7", labels={"theriseunion.io/join-token": token.token_id})
        sync_cluster(Cluster.objects.get(name="edge"))
    html = root.get(f"{PAGE}?group=line-1").content.decode()
    assert 'id="join-edge-7" data-phase="Pending"' in html and 'value="approve"' in html
    with fleet.committed():
        done = root.post(f"{PAGE}?group=line-1", {"action": "approve", "node": "edge-7"})
    assert done.status_code == 302
    assert Node.objects.get(name="edge-7").nodegroup.name == "line-1"
    # AND revoke from the token list
    root.post(f"{PAGE}?group=line-1", {"action": "revoke", "token": token.token_id})
    assert JoinToken.objects.get().revoked is not None


def test_a_viewer_sees_the_lists_but_no_buttons_and_cannot_post(fleet):
    guest = client("guest")
    html = guest.get(f"{PAGE}?group=line-1").content.decode()
    assert 'id="pending-nodes"' in html and 'id="join-tokens"' in html
    assert 'value="issue"' not in html
    guest.post(f"{PAGE}?group=line-1", {"action": "issue", "ttl_hours": "1"})
    assert not JoinToken.objects.exists()


def test_the_cluster_list_shows_the_runtime(fleet):
    html = client("root").get("/console/clusters/cluster/").content.decode()
    assert "openyurt" in html
