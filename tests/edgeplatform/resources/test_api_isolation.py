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


def _without(text: str, *names: str) -> str:
    for name in names:
        text = text.replace(name, "<name>")
    return text


def test_a_member_cannot_grant_themselves_another_workspace_nor_learn_that_it_exists(member):
    """GIVEN a viewer of w1 WHEN they bind themselves in w2 (hidden) or w9 (missing) THEN the answers are alike."""
    hidden = member.post(BINDINGS, binding_manifest("sneaky", "reader-workspace", "workspace", "w2",
                                                    users=("member",)))
    missing = member.post(BINDINGS, binding_manifest("sneaky", "reader-workspace", "workspace", "w9",
                                                     users=("member",)))
    assert hidden.status_code == missing.status_code == 422
    assert _without(hidden.content.decode(), "w2") == _without(missing.content.decode(), "w9")
    assert hidden.json()["details"]["causes"][0]["field"] == "metadata.labels[iam.theriseunion.io/scope-value]"
    assert member.get(f"{WS}/w2").status_code == 404
    # a scope they may see but not grant in is a plain refusal
    assert member.post(BINDINGS, binding_manifest("sneaky", "reader-workspace", "workspace", "w1",
                                                  users=("member",))).status_code == 403


def test_a_hidden_cluster_is_answered_as_a_missing_one(member):
    """GIVEN a viewer of c1/w1 WHEN they name cluster c2 (hidden) or c9 (missing) THEN the answers are alike."""
    body = {"metadata": {"name": "w9", "labels": {"scope.theriseunion.io/cluster": "c2"}}}
    hidden = member.post(WS, body)
    body["metadata"]["labels"]["scope.theriseunion.io/cluster"] = "c9"
    missing = member.post(WS, body)
    assert hidden.status_code == missing.status_code == 422
    assert _without(hidden.content.decode(), "c2") == _without(missing.content.decode(), "c9")
    for verb in ("get", "post"):
        under_hidden = getattr(member, verb)("/oapis/scope.theriseunion.io/v1alpha1/clusters/c2/namespaces",
                                             *([{"metadata": {"name": "x"}}] if verb == "post" else []))
        under_missing = getattr(member, verb)("/oapis/scope.theriseunion.io/v1alpha1/clusters/c9/namespaces",
                                              *([{"metadata": {"name": "x"}}] if verb == "post" else []))
        assert under_hidden.status_code == under_missing.status_code == 404
        assert _without(under_hidden.content.decode(), "c2") == _without(under_missing.content.decode(), "c9")
    assert member.get(NS).status_code == 200  # their own cluster's namespaces are there


def test_a_review_of_a_hidden_scope_says_no_more_than_one_of_a_missing_scope(member):
    def review(value):
        return member.post("/oapis/iam.theriseunion.io/v1alpha1/subjectaccessreviews", {
            "spec": {"user": "member", "resourceAttributes": {"verb": "get", "resource": "pods"},
                     "scope": {"level": "namespace", "value": value, "cluster": "c1"}}})

    hidden, missing = review("n3"), review("n9")
    assert hidden.status_code == missing.status_code == 422
    assert "w2" not in hidden.content.decode()
    assert _without(hidden.content.decode(), "n3") == _without(missing.content.decode(), "n9")
    assert review("n1").json()["status"]["allowed"] is True


def test_an_unknown_kind_is_a_not_found_status(member):
    response = member.get("/oapis/scope.theriseunion.io/v1alpha1/gadgets")
    assert response.status_code == 404
    assert response.json()["kind"] == "Status" and response.json()["reason"] == "NotFound"


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
    assert elsewhere.status_code == 422  # w2 is not theirs to know of: answered as a missing workspace
    assert elsewhere.json()["details"]["causes"][0]["field"] == "metadata.labels[theriseunion.io/workspace]"
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


def test_an_object_grant_alone_lets_its_holder_change_that_workspace(platform, api):
    """GIVEN a user whose only grant is django-guardian's view+change on workspace w2 (the Resource level)
    WHEN they replace it THEN it is saved: the cluster it names is one they know through the object."""
    from guardian.shortcuts import assign_perm

    objs = fleet.build(platform)
    user = platform.user("contractor")
    assign_perm("view_workspace", user, objs["c1/w2"])
    assign_perm("change_workspace", user, objs["c1/w2"])
    client = api(user)
    current = client.get(f"{WS}/w2").json()
    current["spec"]["displayName"] = "Contracted"
    saved = client.put(f"{WS}/w2", current)
    assert saved.status_code == 200, saved.json()
    assert client.get(f"{WS}/w1").status_code == 404
