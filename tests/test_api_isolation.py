"""Cross-tenant isolation through the API: what a member may not see is 404, what they may see but not
change is 403."""
import pytest

from tests import fleet
from tests.support import binding_manifest

WS = "/oapis/scope.theriseunion.io/v1alpha1/workspaces"
NS = "/oapis/scope.theriseunion.io/v1alpha1/clusters/c1/namespaces"
BINDINGS = "/oapis/iam.theriseunion.io/v1alpha1/iamrolebindings"


@pytest.fixture
def member(platform, api):
    """A viewer of workspace w1 only."""
    fleet.build(platform)
    user = platform.user("member")
    platform.bind("member-w1", "reader-workspace", "workspace", "w1", users=("member",))
    return api(user)


def test_lists_show_only_the_members_workspace(member):
    names = [item["metadata"]["name"] for item in member.get(WS).json()["items"]]
    assert names == ["w1"]
    namespaces = [item["metadata"]["name"] for item in member.get(NS).json()["items"]]
    assert namespaces == ["n1", "n2"]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_another_workspace_is_not_found(member, method):
    body = {"metadata": {"name": "w2", "labels": {"scope.theriseunion.io/cluster": "c1"}}, "spec": {}}
    response = getattr(member, method)(f"{WS}/w2", *([body] if method in ("put", "patch") else []))
    assert response.status_code == 404
    status = response.json()
    assert status["kind"] == "Status" and status["reason"] == "NotFound" and status["details"]["name"] == "w2"


def test_another_workspaces_namespace_is_not_found(member):
    assert member.get(f"{NS}/n3").status_code == 404
    assert member.get(f"{NS}/n1").status_code == 200


def test_a_viewer_may_read_but_not_change_their_workspace(member):
    current = member.get(f"{WS}/w1").json()
    current["spec"]["displayName"] = "renamed"
    response = member.put(f"{WS}/w1", current)
    assert response.status_code == 403
    assert response.json()["reason"] == "Forbidden"
    assert member.get(f"{WS}/w1").json()["spec"].get("displayName") is None


def test_a_member_cannot_grant_themselves_another_workspace(member):
    body = binding_manifest("sneaky", "reader-workspace", "workspace", "w2", users=("member",))
    response = member.post(BINDINGS, body)
    assert response.status_code == 403
    assert member.get(f"{WS}/w2").status_code == 404


def test_a_member_cannot_create_workspaces(member):
    body = {"metadata": {"name": "w9", "labels": {"scope.theriseunion.io/cluster": "c1"}}}
    assert member.post(WS, body).status_code == 403


def test_anonymous_requests_get_401(api, db):
    response = api(None).get(WS)
    assert response.status_code == 401
    assert response.json()["reason"] == "Unauthorized"


def test_a_workspace_admin_manages_their_workspace_and_nothing_else(platform, api):
    fleet.build(platform)
    platform.apply(fleet.role_manifest("ws-manager", "workspace", [
        {"apiGroups": ["scope.theriseunion.io"], "resources": ["workspaces"], "verbs": ["*"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["*"]},
        {"apiGroups": ["iam.theriseunion.io"], "resources": ["iamrolebindings", "iamroles"], "verbs": ["*"]}]))
    user = platform.user("wsadmin")
    platform.bind("wsadmin-w1", "ws-manager", "workspace", "w1", users=("wsadmin",))
    client = api(user)
    current = client.get(f"{WS}/w1").json()
    current["spec"]["displayName"] = "Line 1"
    assert client.put(f"{WS}/w1", current).status_code == 200
    created = client.post(NS, {"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": "n9", "labels": {"theriseunion.io/workspace": "w1"}}})
    assert created.status_code == 201, created.json()
    elsewhere = client.post(NS, {"metadata": {"name": "n10", "labels": {"theriseunion.io/workspace": "w2"}}})
    assert elsewhere.status_code == 403
    platform.user("newbie")
    # reader-workspace also reads clusters, nodes and pods, which ws-manager does not hold: no escalation
    refused = client.post(BINDINGS, binding_manifest("newbie-w1", "reader-workspace", "workspace", "w1",
                                                     users=("newbie",)))
    assert refused.status_code == 403
    assert refused.json()["details"]["causes"][0]["field"] == "spec.roleRef.name"
    assert "cannot grant permissions they do not hold" in refused.json()["message"]
    platform.apply(fleet.role_manifest("ws-reader", "workspace", [
        {"apiGroups": ["scope.theriseunion.io"], "resources": ["workspaces"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]}]))
    bound = client.post(BINDINGS, binding_manifest("newbie-w1", "ws-reader", "workspace", "w1", users=("newbie",)))
    assert bound.status_code == 201, bound.json()
    visible = {b["metadata"]["name"]: b for b in client.get(BINDINGS).json()["items"]}
    # the namespace's creator became its admin; the bindings of other workspaces stay invisible
    creator = [b for b in visible.values() if b["metadata"]["labels"]["iam.theriseunion.io/scope"] == "namespace"]
    assert set(visible) == {"newbie-w1", "wsadmin-w1", creator[0]["metadata"]["name"]}
    assert creator[0]["spec"]["subjects"][0]["name"] == "wsadmin"
    assert creator[0]["spec"]["roleRef"]["name"] == "namespace-admin"
