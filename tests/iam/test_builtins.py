"""The built-in templates and roles (installed by migration, documented in docs/builtin-roles.md)."""
import pytest

from edgeplatform.resources import labels as selectors
from iam.models import IAMRole, RoleTemplate
from tests.paths import ROOT

BUILTIN_ROLES = {
    "platform": ["platform-admin", "platform-self-provisioner", "platform-regular", "anonymous"],
    "cluster": ["cluster-admin", "cluster-viewer", "cluster-regular", "cluster-self-provisioner"],
    "workspace": ["workspace-admin", "workspace-viewer", "workspace-regular", "workspace-self-provisioner"],
    "nodegroup": ["nodegroup-admin", "nodegroup-viewer"],
    "namespace": ["namespace-admin", "namespace-operator", "namespace-viewer"],
    "node": ["node-admin", "node-viewer"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("level", BUILTIN_ROLES)
def test_every_builtin_role_exists_aggregated(level):
    for name in BUILTIN_ROLES[level]:
        role = IAMRole.objects.get(name=name)
        assert role.scope_level == level and role.builtin
        if name != "anonymous":
            assert role.spec["aggregatedRoleTemplates"], name
            assert role.effective_rules, name


@pytest.mark.django_db
def test_every_level_has_templates_and_every_role_is_documented():
    levels = {t.level for t in RoleTemplate.objects.all()}
    assert levels >= {"platform", "cluster", "workspace", "nodegroup", "namespace", "node"}

    doc = (ROOT / "docs" / "builtin-roles.md").read_text()
    for name in [n for names in BUILTIN_ROLES.values() for n in names]:
        assert f"`{name}`" in doc, f"built-in role {name} is not documented"
    builtin = RoleTemplate.objects.filter(selectors.filter_q(selectors.parse("iam.theriseunion.io/builtin=true")))
    assert builtin.count() > 50
    for template in builtin:
        assert f"`{template.name}`" in doc, f"built-in template {template.name} is not documented"


@pytest.mark.django_db
def test_viewer_roles_only_read():
    for role in IAMRole.objects.filter(name__endswith="-viewer"):
        verbs = {v for rule in role.effective_rules for v in rule.get("verbs", [])}
        assert verbs <= {"get", "list", "watch"}, (role.name, verbs)


def test_workspace_admin_and_viewer_through_the_api(platform, api):
    from tests import fleet

    fleet.build(platform)
    admin_user, viewer_user = platform.user("wsadmin"), platform.user("wsviewer")
    platform.bind("a", "workspace-admin", "workspace", "w1", users=("wsadmin",))
    platform.bind("v", "workspace-viewer", "workspace", "w1", users=("wsviewer",))
    ns = "/oapis/scope.theriseunion.io/v1alpha1/clusters/c1/namespaces"
    body = {"metadata": {"name": "n7", "labels": {"theriseunion.io/workspace": "w1"}}}
    assert api(viewer_user).post(ns, body).status_code == 403
    assert api(admin_user).post(ns, body).status_code == 201
    assert [i["metadata"]["name"] for i in api(viewer_user).get(ns).json()["items"]] == ["n1", "n2", "n7"]
    assert "workspace/members.manage" in __import__("iam.engine", fromlist=["engine"]).engine.ui_permissions(
        admin_user, "clusters/c1/workspaces/w1/namespaces/n1")


def test_self_provisioner_becomes_admin_of_what_they_create(platform, api):
    platform.cluster("c1")
    user = platform.user("maker")
    platform.bind("sp", "platform-self-provisioner", "platform", "global", users=("maker",))
    client = api(user)
    body = {"metadata": {"name": "mine", "labels": {"scope.theriseunion.io/cluster": "c1"}}}
    created = client.post("/oapis/scope.theriseunion.io/v1alpha1/workspaces", body)
    assert created.status_code == 201, created.json()
    current = client.get("/oapis/scope.theriseunion.io/v1alpha1/workspaces/mine").json()
    current["spec"]["displayName"] = "Mine"
    assert client.put("/oapis/scope.theriseunion.io/v1alpha1/workspaces/mine", current).status_code == 200
