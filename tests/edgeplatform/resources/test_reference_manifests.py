"""Manifests written for the earlier implementation load unchanged and mean the same thing."""
import os
import re
from pathlib import Path

import pytest
import yaml

from edgeplatform.resources.loader import apply, documents
from iam.models import IAMRole
from tests.paths import FIXTURES
from tests.support import ApiClient

FIXTURE = FIXTURES / "reference_rbac.yaml"
ROLES = "/oapis/iam.theriseunion.io/v1alpha1/iamroles"


@pytest.fixture
def site(platform):
    platform.cluster("china")
    platform.workspace("beijing", "china")
    platform.namespace("dongchengqu", "china", "beijing")
    return platform


def test_reference_shaped_manifests_post_unchanged_through_the_api(site, api):
    admin = api(site.user("root", superuser=True))
    for manifest in sorted(documents(FIXTURE.read_text()), key=lambda m: ["RoleTemplate", "IAMRole",
                                                                          "IAMRoleBinding"].index(m["kind"])):
        plural = {"RoleTemplate": "roletemplates", "IAMRole": "iamroles", "IAMRoleBinding": "iamrolebindings"}
        response = admin.post(f"/oapis/iam.theriseunion.io/v1alpha1/{plural[manifest['kind']]}", manifest)
        assert response.status_code == 201, response.json()
    role = admin.get(f"{ROLES}/site-team").json()
    assert role["spec"]["aggregatedRoleTemplates"] == ["site-basic"]
    assert admin.get(f"{ROLES}/site-developer").json()["spec"]["aggregatedRoleTemplates"] == [
        "site-basic", "site-manage-projects"]  # dependencies come along


def test_they_mean_the_same_thing(site):
    alice, bob = site.user("alice"), site.user("bob")
    apply(documents(FIXTURE.read_text()))
    ns = site.namespace("dongchengqu", "china", "beijing")
    # tenant.theriseunion.io/workspaces is our scope.theriseunion.io/workspaces
    assert alice.has_perm("clusters.view_workspace", ns.workspace)
    assert not alice.has_perm("clusters.change_workspace", ns.workspace)
    # resources.theriseunion.io stands for the Kubernetes resources of any group
    assert bob.has_perm("create:apps/deployments", ns)
    assert bob.has_perm("delete:/pods", ns)
    assert not alice.has_perm("delete:/pods", ns)
    # …but not for the platform's own kinds: bob reads his own user (everyone does), no one else's
    assert not bob.has_perm("iam.view_user", alice)
    assert bob.has_perm("iam.view_user", bob)
    guest = IAMRole.objects.get(name="guest")
    assert guest.spec.get("aggregatedRoleTemplates") is None and len(guest.effective_rules) == 2


def test_changing_a_template_reaggregates_every_role_that_selects_it(site):
    alice = site.user("alice")
    apply(documents(FIXTURE.read_text()))
    ns = site.namespace("dongchengqu", "china", "beijing")
    assert not alice.has_perm("get:/configmaps", ns)
    extra = {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "RoleTemplate",
             "metadata": {"name": "site-configs", "labels": {"iam.theriseunion.io/scope": "workspace",
                                                             "iam.theriseunion.io/aggregate-to-site-team": ""}},
             "spec": {"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}}
    apply([extra])
    assert IAMRole.objects.get(name="site-team").spec["aggregatedRoleTemplates"] == ["site-basic", "site-configs"]
    assert alice.has_perm("get:/configmaps", ns)
    extra["metadata"]["labels"].pop("iam.theriseunion.io/aggregate-to-site-team")
    apply([extra])
    assert IAMRole.objects.get(name="site-team").spec["aggregatedRoleTemplates"] == ["site-basic"]
    assert not alice.has_perm("get:/configmaps", ns)


@pytest.mark.skipif(not os.environ.get("EDGE_REFERENCE_RBAC_DIR"),
                    reason="EDGE_REFERENCE_RBAC_DIR names a checkout of the reference's templates/rbac folder")
def test_the_reference_files_themselves_load(db):
    """Loads the reference's own `edge-controller/templates/rbac/` files (Helm comments and `{{ }}` lines dropped)."""
    manifests = []
    for path in sorted(Path(os.environ["EDGE_REFERENCE_RBAC_DIR"]).glob("*.yaml")):
        text = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", path.read_text(), flags=re.DOTALL)
        text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("{{"))
        manifests += [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
    rows = apply(manifests)
    assert len(rows) == len(manifests)


BUILTINS = FIXTURES / "reference_builtins.yaml"
IAM = "/oapis/iam.theriseunion.io/v1alpha1"


def reference_builtins() -> dict:
    return {manifest["kind"]: manifest for manifest in documents(BUILTINS.read_text())}


def test_the_references_anonymous_role_loads_with_http_verbs_on_non_resource_urls(site, api):
    """GIVEN the reference's own `anonymous` IAMRole (get and post on /oauth/token, /healthz, …) WHEN an administrator
    replaces the built-in role with it THEN it is stored as written."""
    admin = api(site.user("root", superuser=True))
    role = reference_builtins()["IAMRole"]
    response = admin.put(f"{ROLES}/anonymous", role)
    assert response.status_code == 200, response.json()
    assert admin.get(f"{ROLES}/anonymous").json()["spec"]["rules"] == role["spec"]["rules"]


@pytest.mark.parametrize("verb", ["post", "PUT", "head", "options", "delete", "patch", "*", "list"])
def test_any_http_method_is_a_verb_of_a_non_resource_urls_rule(site, api, verb):
    admin = api(site.user("root", superuser=True))
    rules = [{"nonResourceURLs": ["/healthz"], "verbs": [verb]}]
    labels = {"iam.theriseunion.io/scope": "platform", "iam.theriseunion.io/scope-value": "global"}
    response = admin.post(ROLES, {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "IAMRole",
                                  "metadata": {"name": "probe", "labels": labels}, "spec": {"rules": rules}})
    assert response.status_code == 201, response.json()


def test_http_methods_are_no_verbs_of_a_resource_rule(site, api):
    admin = api(site.user("root", superuser=True))
    response = admin.post(ROLES, {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "IAMRole",
                                  "metadata": {"name": "probe", "labels": {"iam.theriseunion.io/scope": "platform"}},
                                  "spec": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["post"]}]}})
    assert response.status_code == 422
    assert response.json()["details"]["causes"][0]["field"] == "spec.rules[0].verbs"


def test_the_references_admin_user_loads_with_a_group_that_does_not_exist_yet(site, api):
    """GIVEN the reference's default `admin` User (group `system:admin`, a bcrypt password) and its binding WHEN an
    administrator posts them THEN the user is created in that group, logs in with the reference's password and
    is a platform administrator through the binding."""
    from django.test import Client

    root = api(site.user("root", superuser=True))
    manifests = reference_builtins()
    created = root.post(f"{IAM}/users", manifests["User"])
    assert created.status_code == 201, created.json()
    assert created.json()["spec"]["groups"] == ["system:admin"]
    assert root.post(f"{IAM}/iamrolebindings", manifests["IAMRoleBinding"]).status_code == 201
    token = Client().post("/oauth/token", {"grant_type": "password", "username": "admin", "password": "P@88w0rd"})
    assert token.status_code == 200, token.content
    admin = ApiClient(token.json()["access_token"])
    cluster = {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "edge-bj"},
               "spec": {"type": "physical"}}
    assert admin.post("/oapis/scope.theriseunion.io/v1alpha1/clusters", cluster).status_code == 201


@pytest.fixture
def user_manager(site, api):
    """Manages users and groups platform-wide, and holds nothing else."""
    from tests import fleet

    site.apply(fleet.role_manifest("user-manager", "platform", [
        {"apiGroups": ["iam.theriseunion.io"], "resources": ["users", "groups"], "verbs": ["*"]}], value="global"))
    manager = site.user("um")
    site.bind("um-platform", "user-manager", "platform", "global", users=("um",))
    return api(manager)


def test_a_group_name_that_is_bound_is_guarded_whether_or_not_a_group_of_that_name_exists(site, user_manager):
    """GIVEN the name `system:admin` bound to platform-admin, with no Group object of that name WHEN a user manager
    puts themselves in it THEN it is refused on spec.groups[0]: joining a group name means holding what it is
    bound to."""
    from iam.models import User

    site.bind("sysadmins", "platform-admin", "platform", "global", groups=("system:admin",))
    response = user_manager.patch(f"{IAM}/users/um", {"spec": {"groups": ["system:admin"]}})
    assert response.status_code == 403
    assert response.json()["details"]["causes"][0]["field"] == "spec.groups[0]"
    assert not User.objects.get(name="um").groups.exists()


def test_an_unbound_group_name_is_held_as_an_external_group_until_a_group_takes_it_over(site, user_manager):
    """GIVEN a group name nothing is bound to and no Group carries WHEN a user manager puts a user in it THEN the
    membership is kept (it grants nothing); a Group of that name created later has that member."""
    site.user("alice")
    joined = user_manager.patch(f"{IAM}/users/alice", {"spec": {"groups": ["contractors", "Domain Users"]}})
    assert joined.status_code == 200, joined.json()
    assert joined.json()["spec"]["groups"] == ["Domain Users", "contractors"]
    assert [g["metadata"]["name"] for g in user_manager.get(f"{IAM}/groups").json()["items"]] == []
    group = user_manager.post(f"{IAM}/groups", {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Group",
                                                "metadata": {"name": "contractors"}})
    assert group.status_code == 201, group.json()
    assert group.json()["status"]["memberCount"] == 1
    left = user_manager.patch(f"{IAM}/users/alice", {"spec": {"groups": []}})
    assert left.json()["spec"]["groups"] == []


@pytest.mark.parametrize("name", ["", "a\tb", "x" * 151])
def test_a_group_name_is_a_printable_string_of_at_most_150_characters(site, user_manager, name):
    site.user("alice")
    response = user_manager.patch(f"{IAM}/users/alice", {"spec": {"groups": [name]}})
    assert response.status_code == 422
    assert response.json()["details"]["causes"][0]["field"] == "spec.groups[0]"
