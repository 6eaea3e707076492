"""No one grants more than they hold: bindings, roles, templates, group membership, other users' passwords
and tokens are refused (403 naming the field) when they would hand out rules the caller does not hold."""
import pytest

from tests import fleet
from tests.support import binding_manifest

IAM = "/oapis/iam.theriseunion.io/v1alpha1"
WS = "/oapis/scope.theriseunion.io/v1alpha1/workspaces"
USER_ADMIN_RULES = [{"apiGroups": ["iam.theriseunion.io"], "resources": ["users", "groups"], "verbs": ["*"]}]


def refused(response, field: str) -> bool:
    body = response.json()
    return (response.status_code == 403 and body["details"]["causes"][0]["field"] == field
            and ("do not hold" in body["message"] or "platform administrator" in body["message"]))


@pytest.fixture
def site(platform):
    platform.cluster("c1")
    platform.workspace("w1", "c1")
    platform.workspace("w2", "c1")
    platform.user("root", superuser=True)
    return platform


@pytest.fixture
def user_manager(site, api):
    """A platform role that manages users and groups and nothing else."""
    site.apply(fleet.role_manifest("user-manager", "platform", USER_ADMIN_RULES, value="global"))
    site.bind("um-platform", "user-manager", "platform", "global", users=("um",)) if site.user("um") else None
    site.apply({"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Group", "metadata": {"name": "admins"}})
    site.bind("admins-platform", "platform-admin", "platform", "global", groups=("admins",))
    return api(__import__("iam.models", fromlist=["User"]).User.objects.get(name="um"))


def test_a_user_manager_cannot_join_a_group_that_holds_more(user_manager):
    response = user_manager.patch(f"{IAM}/users/um", {"spec": {"groups": ["admins"]}})
    assert refused(response, "spec.groups[0]"), response.json()


def test_a_user_manager_cannot_take_over_a_platform_administrator(user_manager):
    assert refused(user_manager.post(f"{IAM}/users/root/tokens", {"name": "mine"}), "metadata.name")
    assert refused(user_manager.patch(f"{IAM}/users/root", {"spec": {"password": "Tak3n-Over-Passw0rd"}}),
                   "spec.password")
    root = user_manager.get(f"{IAM}/users/root").json()
    root["status"] = {"state": "Disabled"}
    assert refused(user_manager.put(f"{IAM}/users/root", root), "status.state")
    from iam.models import User

    assert User.objects.get(name="root").is_active


def test_a_user_manager_edits_profiles_but_sets_passwords_only_of_users_who_hold_less(site, user_manager):
    site.user("plain")
    site.bind("plain-w1", "workspace-viewer", "workspace", "w1", users=("plain",))
    response = user_manager.patch(f"{IAM}/users/plain", {"spec": {"email": "plain@example.com"}})
    assert response.status_code == 200, response.json()
    assert response.json()["spec"]["email"] == "plain@example.com"
    new_password = {"spec": {"password": "An0ther-Passw0rd!"}}
    assert refused(user_manager.patch(f"{IAM}/users/plain", new_password), "spec.password")
    site.user("fresh")  # holds nothing the user manager lacks
    assert user_manager.patch(f"{IAM}/users/fresh", new_password).status_code == 200


def test_a_workspace_admin_cannot_mint_a_broader_role_or_bind_one(site, api):
    from iam.models import User

    site.user("wa")
    site.bind("wa-w1", "workspace-admin", "workspace", "w1", users=("wa",))
    client = api(User.objects.get(name="wa"))
    god = fleet.role_manifest("ws-god", "workspace", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
                              value="w1", cluster="c1")
    assert refused(client.post(f"{IAM}/iamroles", god), "spec.rules")
    site.apply(god)  # made by the system, it exists; binding it is handing it out
    response = client.post(f"{IAM}/iamrolebindings", binding_manifest("wa-god", "ws-god", "workspace", "w1",
                                                                     users=("wa",)))
    assert refused(response, "spec.roleRef.name"), response.json()
    assert client.delete(f"{WS}/w1").status_code == 403  # still not theirs to delete
    # what they hold, they may hand out
    site.user("bob")
    ok = client.post(f"{IAM}/iamrolebindings", binding_manifest("bob-w1", "workspace-viewer", "workspace", "w1",
                                                                users=("bob",)))
    assert ok.status_code == 201, ok.json()


def test_a_template_cannot_smuggle_rules_into_roles(site, api):
    from iam.models import User

    site.apply(fleet.role_manifest("role-manager", "platform", [
        {"apiGroups": ["iam.theriseunion.io"], "resources": ["roletemplates", "iamroles", "iamrolebindings"],
         "verbs": ["*"]}], value="global"))
    site.user("rm")
    site.bind("rm-platform", "role-manager", "platform", "global", users=("rm",))
    client = api(User.objects.get(name="rm"))
    template = client.get(f"{IAM}/roletemplates/workspace-view-projects").json()
    template["spec"]["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    assert refused(client.put(f"{IAM}/roletemplates/workspace-view-projects", template), "spec.rules")
    template["spec"]["rules"].pop()
    template["metadata"]["annotations"]["theriseunion.io/description"] = "Reworded"
    assert client.put(f"{IAM}/roletemplates/workspace-view-projects", template).status_code == 200


def test_the_names_the_audit_log_uses_for_the_platform_are_reserved(site, api):
    from iam.models import User

    client = api(User.objects.get(name="root"))
    for name in ("system", "anonymous"):
        response = client.post(f"{IAM}/users", {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "User",
                                                "metadata": {"name": name}, "spec": {}})
        assert response.status_code == 422 and response.json()["details"]["causes"][0]["field"] == "metadata.name"


def test_a_password_change_revokes_the_users_tokens(site, api):
    from iam.models import User

    site.user("ann")
    ann = api(User.objects.get(name="ann"))
    assert ann.get(f"{IAM}/users/ann").status_code == 200
    root = api(User.objects.get(name="root"))
    assert root.patch(f"{IAM}/users/ann", {"spec": {"password": "An0ther-Passw0rd!"}}).status_code == 200
    assert ann.get(f"{IAM}/users/ann").status_code == 401
