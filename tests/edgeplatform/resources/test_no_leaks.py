"""No answer tells a caller about scopes, roles or groups they may not learn of.

Each test asks the same question twice, once about something that exists but is hidden from the caller and
once about something that does not exist (or about another hidden thing), and compares the two answers byte
for byte once the names the caller sent are blanked out.
"""
import pytest
from guardian.shortcuts import assign_perm

from iam.audit.models import AuditEvent
from iam.models import IAMRole, User
from tests import fleet
from tests.factories import NodeGroupFactory
from tests.support import binding_manifest

IAM = "/oapis/iam.theriseunion.io/v1alpha1"
BINDINGS = f"{IAM}/iamrolebindings"
ROLES = f"{IAM}/iamroles"
NODES = "/oapis/scope.theriseunion.io/v1alpha1/clusters/c1/nodes"
BINDING_ADMIN = [
    {"apiGroups": ["iam.theriseunion.io"], "resources": ["iamrolebindings"], "verbs": ["*"]},
    {"apiGroups": ["iam.theriseunion.io"], "resources": ["iamroles"], "verbs": ["get", "list"]},
]
SECRETS = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}


def blank(response, *names: str) -> bytes:
    """The response body with the names the caller chose replaced, so that two answers can be compared."""
    body = response.content
    for name in names:
        body = body.replace(name.encode(), b"<name>")
    return body


def hidden_names(response) -> set[str]:
    """Which names of scopes in other workspaces, node groups and clusters the body mentions."""
    text = response.content.decode()
    return {name for name in ("w2", "w3", "c2", "g2", "g4") if f"/{name}" in text or f'"{name}"' in text}


@pytest.fixture
def fleet_objs(platform):
    return fleet.build(platform)


@pytest.fixture
def binder(platform, api, fleet_objs):
    """Administers the bindings of workspace w1, and nothing else."""
    platform.apply(fleet.role_manifest("binding-admin", "workspace", BINDING_ADMIN))
    platform.user("binder")
    platform.bind("binder-w1", "binding-admin", "workspace", "w1", users=("binder",))
    platform.user("newbie")
    return api(User.objects.get(name="binder"))


@pytest.fixture
def member(platform, api, fleet_objs):
    """A viewer of workspace w1 only: may read their own User, may change nothing."""
    platform.user("member")
    platform.bind("member-w1", "reader-workspace", "workspace", "w1", users=("member",))
    return api(User.objects.get(name="member"))


def test_a_role_of_a_hidden_workspace_is_answered_as_a_missing_role(platform, binder):
    """GIVEN a role pinned to w2, which the binder of w1 may not see WHEN they bind it at w1, and bind a role that
    does not exist THEN both answers are the same 422 on spec.roleRef.name, naming no workspace."""
    platform.apply(fleet.role_manifest("w2-helper", "workspace", [SECRETS], value="w2"))
    hidden = binder.post(BINDINGS, binding_manifest("b1", "w2-helper", "workspace", "w1", users=("newbie",)))
    missing = binder.post(BINDINGS, binding_manifest("b1", "no-such-role", "workspace", "w1", users=("newbie",)))
    assert hidden.status_code == missing.status_code == 422
    assert blank(hidden, "w2-helper") == blank(missing, "no-such-role")
    assert hidden.json()["details"]["causes"][0]["field"] == "spec.roleRef.name"
    assert hidden_names(hidden) == set()


def test_a_role_the_binder_may_read_is_explained(platform, binder):
    """GIVEN a role pinned to another scope the binder may read (w1's, bound at one of w1's namespaces) THEN the
    refusal says why, as before."""
    platform.apply(fleet.role_manifest("w1-helper", "workspace", [SECRETS], value="w1"))
    response = binder.post(BINDINGS, binding_manifest("b1", "w1-helper", "namespace", "n1", "c1",
                                                      users=("newbie",)))
    assert response.status_code == 422
    assert "is a workspace role and cannot be bound at namespace scope" in response.json()["message"]


def test_who_may_not_bind_learns_nothing_about_roles(platform, member):
    """GIVEN a viewer of w1 (who may not bind) WHEN they bind a hidden workspace's role, or a missing one, at w1
    THEN both are the same 403: authorization comes before the role is looked up."""
    platform.apply(fleet.role_manifest("w2-helper", "workspace", [SECRETS], value="w2"))
    hidden = member.post(BINDINGS, binding_manifest("b1", "w2-helper", "workspace", "w1", users=("member",)))
    missing = member.post(BINDINGS, binding_manifest("b1", "no-such-role", "workspace", "w1", users=("member",)))
    assert hidden.status_code == missing.status_code == 403
    assert hidden.content == missing.content
    assert hidden_names(hidden) == set()


def test_who_may_not_change_their_user_learns_nothing_from_spec_groups(platform, member):
    """GIVEN a group bound in hidden cluster c2 WHEN a user who may not update their own User joins it, or joins a
    group that does not exist THEN both are the same 403 naming neither, and nothing changes."""
    platform.bind("ops-c2", "reader-cluster", "cluster", "c2", groups=("ops",))
    bound = member.patch(f"{IAM}/users/member", {"spec": {"groups": ["ops"]}})
    unknown = member.patch(f"{IAM}/users/member", {"spec": {"groups": ["nobody-has-this"]}})
    assert bound.status_code == unknown.status_code == 403
    assert bound.content == unknown.content
    assert hidden_names(bound) == set() and b"ops" not in bound.content
    assert list(User.objects.get(name="member").groups.values_list("name", flat=True)) == []


@pytest.fixture
def self_editor(platform, api, member):
    """The viewer of w1, who may also change their own User (an object grant): they may join groups, but only
    groups bound to what they hold."""
    user = User.objects.get(name="member")
    assign_perm("change_user", user, user)
    return member


def test_a_group_bound_in_a_hidden_scope_is_refused_without_naming_it(platform, self_editor):
    """GIVEN groups bound in hidden scopes (cluster c2, workspace w2 with another role) WHEN a user who may change
    their User joins each THEN the two refusals are the same bytes: neither scope nor rule is named."""
    platform.bind("ops-c2", "reader-cluster", "cluster", "c2", groups=("ops",))
    platform.apply(fleet.role_manifest("w2-secrets", "workspace", [SECRETS]))
    platform.bind("dev-w2", "w2-secrets", "workspace", "w2", groups=("dev",))
    first = self_editor.patch(f"{IAM}/users/member", {"spec": {"groups": ["ops"]}})
    second = self_editor.patch(f"{IAM}/users/member", {"spec": {"groups": ["dev"]}})
    assert first.status_code == second.status_code == 403
    assert blank(first, "ops") == blank(second, "dev")
    assert first.json()["details"]["causes"][0]["field"] == "spec.groups[0]"
    assert "in a scope they may not see" in first.json()["message"]
    assert hidden_names(first) == set() and b"secrets" not in second.content and b"pods" not in first.content


def test_a_group_bound_where_the_caller_can_see_is_explained(platform, self_editor):
    """GIVEN a group bound at w1, which the user sees, to more than they hold THEN the refusal names rule and
    scope, so they know what they lack."""
    platform.apply(fleet.role_manifest("w1-secrets", "workspace", [SECRETS]))
    platform.bind("dev-w1", "w1-secrets", "workspace", "w1", groups=("dev",))
    response = self_editor.patch(f"{IAM}/users/member", {"spec": {"groups": ["dev"]}})
    assert response.status_code == 403
    assert 'get on core/secrets at "clusters/c1/workspaces/w1"' in response.json()["message"]


def test_a_role_bound_in_a_hidden_workspace_is_refused_without_naming_it(platform, api, fleet_objs):
    """GIVEN two prototype roles, one bound in hidden w2 and one in hidden c2/w3, that a user may change (object
    grants) WHEN they add a rule they do not hold to each THEN the refusals are the same bytes, naming no
    workspace."""
    editor = platform.user("editor")
    for name, where in (("helper-a", "w2"), ("helper-b", "w3")):
        platform.apply(fleet.role_manifest(name, "workspace", fleet.ALL_KINDS[:1]))
        platform.bind(f"{name}-{where}", name, "workspace", where, groups=("staff",))
        role = IAMRole.objects.get(name=name)
        assign_perm("view_iamrole", editor, role)
        assign_perm("change_iamrole", editor, role)
    client = api(editor)
    answers = []
    for name in ("helper-a", "helper-b"):
        role = client.get(f"{ROLES}/{name}").json()
        role["spec"]["rules"].append(SECRETS)
        answers.append(client.put(f"{ROLES}/{name}", role))
    assert answers[0].status_code == answers[1].status_code == 403
    assert blank(answers[0], "helper-a") == blank(answers[1], "helper-b")
    assert answers[0].json()["details"]["causes"][0]["field"] == "spec.rules"
    assert hidden_names(answers[0]) == set()


def test_a_node_placed_by_a_hidden_node_groups_selector_names_no_node_group(platform, api, fleet_objs):
    """GIVEN hidden node groups g2 and g4 whose selectors match zone=b and zone=c WHEN the admin of g1 creates a
    node labelled for each THEN both refusals are the same bytes, naming no node group, in the answer and in
    the caller's own audit trail."""
    for name, zone in (("g2", "b"), ("g4", "c")):
        NodeGroupFactory.apply(name=name, cluster="c1", spec={"selector": {"matchLabels": {"zone": zone}}})
    platform.apply(fleet.role_manifest("node-admin", "nodegroup", [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["*"]}]))
    platform.user("ngadmin")
    platform.bind("ngadmin-g1", "node-admin", "nodegroup", "g1", users=("ngadmin",))
    client = api(User.objects.get(name="ngadmin"))
    first = client.post(NODES, {"metadata": {"name": "y1", "labels": {"zone": "b"}}})
    second = client.post(NODES, {"metadata": {"name": "y1", "labels": {"zone": "c"}}})
    assert first.status_code == second.status_code == 403
    assert first.content == second.content
    assert hidden_names(first) == set()
    denied = AuditEvent.objects.filter(actor="ngadmin", result="denied", name="y1")
    assert denied.count() == 2 and not any("nodegroups/g" in event.scope_path for event in denied)
    # in their own node group the node is created, and placed there
    created = client.post(NODES, {"metadata": {"name": "y2", "labels": {"theriseunion.io/nodegroup": "g1"}}})
    assert created.status_code == 201, created.json()


def test_a_namesake_namespace_in_a_hidden_cluster_changes_nothing(platform, binder):
    """GIVEN namespace n1 in c1 and a namesake in hidden cluster c2, n2 only in c1 WHEN the binder of w1 binds at
    namespace n1 and at n2, naming no cluster THEN both are bound in c1 alike, the cluster label added; the
    namesake they may not see neither makes n1 ambiguous nor shows."""
    from iam.models import IAMRoleBinding

    platform.apply(fleet.role_manifest("ns-helper", "namespace", fleet.ALL_KINDS[1:]))
    platform.bind("binder-reads", "reader-workspace", "workspace", "w1", users=("binder",))  # so they may hand it out
    answers = [binder.post(BINDINGS, binding_manifest(f"b-{ns}", "ns-helper", "namespace", ns, users=("newbie",)))
               for ns in ("n1", "n2")]
    assert [a.status_code for a in answers] == [201, 201], [a.json() for a in answers]
    labels = [a.json()["metadata"]["labels"] for a in answers]
    assert labels[0]["scope.theriseunion.io/cluster"] == labels[1]["scope.theriseunion.io/cluster"] == "c1"
    assert {k: v for k, v in labels[0].items() if not k.endswith("scope-value")} == \
        {k: v for k, v in labels[1].items() if not k.endswith("scope-value")}
    assert IAMRoleBinding.objects.get(name="b-n1").scope_path == "clusters/c1/workspaces/w1/namespaces/n1"
    assert hidden_names(answers[0]) == set()


def test_a_review_of_a_namespace_named_without_its_cluster_ignores_a_hidden_namesake(platform, member):
    """GIVEN namespace n1 in c1 and a namesake in hidden cluster c2, n2 only in c1 WHEN the viewer of w1 reviews
    their own access at namespace n1 and at n2, naming no cluster THEN both are answered for c1 alike."""
    def review(namespace: str):
        return member.post(f"{IAM}/subjectaccessreviews", {
            "apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "SubjectAccessReview",
            "spec": {"user": "member", "resourceAttributes": {"verb": "get", "resource": "pods"},
                     "scope": {"level": "namespace", "value": namespace}}})

    answers = [review(ns) for ns in ("n1", "n2")]
    assert [a.status_code for a in answers] == [201, 201], [a.json() for a in answers]
    assert [a.json()["status"]["scopePath"] for a in answers] == \
        ["clusters/c1/workspaces/w1/namespaces/n1", "clusters/c1/workspaces/w1/namespaces/n2"]
    assert blank(answers[0], "n1") == blank(answers[1], "n2")
    assert hidden_names(answers[0]) == set()
