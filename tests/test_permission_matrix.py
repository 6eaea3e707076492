"""The cascade over both views and every level (DESIGN §3).

GIVEN a binding at one scope, WHEN checking at every scope object of a two-cluster fleet,
THEN exactly the bound scope and the scopes below it are allowed — not those above, beside,
or with the same name in another cluster.
"""
import pytest
from guardian.shortcuts import assign_perm, remove_perm

from clusters.models import Namespace, Node, Workspace
from edgeplatform.resources.scopes import is_within
from iam.engine import engine
from tests import fleet

#: which fleet objects a grant at each level must reach (the spec of the cascade, spelled out)
EXPECTED = {
    "platform": {"c1", "c2", "c1/w1", "c1/w2", "c2/w3", "c1/g1", "c1/g2", "c2/g3", "c1/n1", "c1/n2", "c1/n3",
                 "c1/loose", "c2/n1", "c1/x1", "c1/x2", "c1/x3", "c1/free", "c2/x1"},
    "cluster": {"c1", "c1/w1", "c1/w2", "c1/g1", "c1/g2", "c1/n1", "c1/n2", "c1/n3", "c1/loose", "c1/x1",
                "c1/x2", "c1/x3", "c1/free"},
    "workspace": {"c1/w1", "c1/n1", "c1/n2"},
    "namespace": {"c1/n1"},
    "nodegroup": {"c1/g1", "c1/x1", "c1/x2"},
    "node": {"c1/x1"},
}


@pytest.fixture
def objs(platform):
    return fleet.build(platform)


def _resource_of(obj):
    return {"Cluster": ("scope.theriseunion.io", "clusters"), "Workspace": ("scope.theriseunion.io", "workspaces"),
            "NodeGroup": ("scope.theriseunion.io", "nodegroups"), "Namespace": ("", "namespaces"),
            "Node": ("", "nodes")}[type(obj).__name__]


@pytest.mark.parametrize("level", fleet.LEVELS)
def test_grant_reaches_exactly_its_scope_and_below(platform, objs, level):
    user = platform.user("alice")
    value, cluster = fleet.GRANT_AT[level]
    platform.bind("b", f"reader-{level}", level, value, cluster, users=("alice",))
    user = type(user).objects.get(pk=user.pk)
    reached = {key for key, obj in objs.items() if engine.allowed(user, "get", *_resource_of(obj), obj.scope_path)}
    assert reached == EXPECTED[level]
    # pods (a Resource-level kind) follow the same cascade, through has_perm's Kubernetes spelling
    pods = {key for key, obj in objs.items() if user.has_perm("get:/pods", obj)}
    assert pods == EXPECTED[level]
    # and the Django spelling on the models themselves
    django_view = {key for key, obj in objs.items()
                   if user.has_perm(f"clusters.view_{type(obj).__name__.lower()}", obj)}
    assert django_view == EXPECTED[level]


@pytest.mark.parametrize("level", fleet.LEVELS)
def test_list_filter_matches_the_checks(platform, objs, level):
    user = platform.user("alice")
    value, cluster = fleet.GRANT_AT[level]
    platform.bind("b", f"reader-{level}", level, value, cluster, users=("alice",))
    for model in (Workspace, Namespace, Node):
        listed = {o.scope_path for o in model.objects.restrict(user, "list")}
        checked = {o.scope_path for o in model.objects.all() if user.has_perm(
            f"clusters.view_{model._meta.model_name}", o)}
        assert listed == checked
        assert all(is_within(p, objs_path(objs, level)) for p in listed)


def objs_path(objs, level):
    key = {"platform": None, "cluster": "c1", "workspace": "c1/w1", "namespace": "c1/n1", "nodegroup": "c1/g1",
           "node": "c1/x1"}[level]
    return "platform" if key is None else objs[key].scope_path


def test_verbs_outside_the_rules_are_denied(platform, objs):
    user = platform.user("alice")
    platform.bind("b", "reader-cluster", "cluster", "c1", users=("alice",))
    ns = objs["c1/n1"]
    assert user.has_perm("clusters.view_namespace", ns)
    assert not user.has_perm("clusters.change_namespace", ns)
    assert not user.has_perm("clusters.delete_namespace", ns)
    assert not user.has_perm("get:iam.theriseunion.io/iamrolebindings", ns)


def test_group_bindings_cascade_and_leaving_the_group_revokes(platform, objs):
    user = platform.user("bob", groups=("site-ops",))
    platform.bind("b", "reader-nodegroup", "nodegroup", "g1", groups=("site-ops",))
    assert user.has_perm("get:/nodes", objs["c1/x2"])
    assert not user.has_perm("get:/nodes", objs["c1/x3"])
    user.groups.clear()
    assert not user.has_perm("get:/nodes", objs["c1/x2"])


def test_deleting_a_binding_revokes_at_once(platform, objs):
    user = platform.user("carol")
    binding = platform.bind("b", "reader-workspace", "workspace", "w1", users=("carol",))
    assert user.has_perm("get:/pods", objs["c1/n2"])
    binding.delete()
    assert not user.has_perm("get:/pods", objs["c1/n2"])


def test_changing_a_roles_rules_takes_effect_at_once(platform, objs):
    user = platform.user("dave")
    platform.bind("b", "reader-namespace", "namespace", "n1", "c1", users=("dave",))
    assert not user.has_perm("create:apps/deployments", objs["c1/n1"])
    platform.apply(fleet.role_manifest("reader-namespace", "namespace", [*fleet.ALL_KINDS,
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]}]))
    assert user.has_perm("create:apps/deployments", objs["c1/n1"])
    assert not user.has_perm("create:apps/deployments", objs["c1/n2"])


def test_object_grants_through_guardian_reach_one_object(platform, objs):
    user = platform.user("erin")
    ns = objs["c1/n3"]
    assign_perm("view_namespace", user, ns)
    assert user.has_perm("clusters.view_namespace", ns)
    assert not user.has_perm("clusters.view_namespace", objs["c1/n2"])
    assert set(Namespace.objects.restrict(user, "get")) == {ns}
    remove_perm("view_namespace", user, ns)
    user = type(user).objects.get(pk=user.pk)  # guardian caches per user object
    assert list(Namespace.objects.restrict(user, "get")) == []


def test_moving_a_namespace_moves_its_grants(platform, objs):
    user = platform.user("frank")
    platform.bind("b", "reader-workspace", "workspace", "w2", users=("frank",))
    ns = objs["c1/n1"]
    assert not user.has_perm("get:/pods", ns)
    ns = platform.namespace("n1", "c1", "w2")  # relabel into w2
    assert ns.scope_path == "clusters/c1/workspaces/w2/namespaces/n1"
    assert user.has_perm("get:/pods", ns)


def test_disabled_and_superusers(platform, objs):
    admin = platform.user("root", superuser=True)
    assert admin.has_perm("delete:/nodes", objs["c2/x1"])
    admin.is_active = False
    admin.save()
    assert not admin.has_perm("delete:/nodes", objs["c2/x1"])


def test_ui_permissions_cascade_from_above(platform, objs):
    user = platform.user("gina")
    platform.bind("b1", "reader-cluster", "cluster", "c1", users=("gina",))
    platform.bind("b2", "reader-workspace", "workspace", "w1", users=("gina",))
    assert engine.ui_permissions(user, objs["c1/n1"].scope_path) == {"cluster/everything.view",
                                                                      "workspace/everything.view"}
    assert engine.ui_permissions(user, objs["c1/w2"].scope_path) == {"cluster/everything.view"}
    assert engine.ui_permissions(user, objs["c2/w3"].scope_path) == frozenset()


def test_resource_names_limit_a_rule_to_named_objects(platform, objs):
    user = platform.user("hank")
    platform.apply(fleet.role_manifest("one-ns", "cluster", [
        {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["n2"], "verbs": ["get", "list"]}]))
    platform.bind("b", "one-ns", "cluster", "c1", users=("hank",))
    assert user.has_perm("clusters.view_namespace", objs["c1/n2"])
    assert not user.has_perm("clusters.view_namespace", objs["c1/n1"])
    assert {n.name for n in Namespace.objects.restrict(user, "list")} == {"n2"}
