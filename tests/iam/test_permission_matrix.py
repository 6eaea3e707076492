"""The cascade over both views and every level (DESIGN §3).

GIVEN a binding at one scope (of a user, or of a group the user is in), WHEN checking at every scope
object of a two-cluster fleet, THEN exactly the bound scope and the scopes below it are allowed — not
those above, beside, or with the same name in another cluster — and every surface says so alike:
``has_perm`` in both spellings, the list filter, and the uiPermissions.
"""
import pytest
from django.contrib.auth.models import Group
from guardian.shortcuts import assign_perm, remove_perm

from clusters.models import Cluster, Namespace, Node, NodeGroup, Workspace
from edgeplatform.resources.converters import registered
from iam.engine import engine, objects
from iam.models import IAMRole, RoleTemplate, User
from tests import fleet

#: which fleet objects a grant at each level must reach (the spec of the cascade, spelled out); the fleet has
#: both views: the application view (workspaces, namespaces) and the infrastructure view (node groups, nodes)
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
SCOPE_MODELS = (Cluster, Workspace, NodeGroup, Namespace, Node)
SUBJECTS = ("user", "group")


@pytest.fixture
def objs(platform):
    return fleet.build(platform)


def _resource_of(obj):
    return {"Cluster": ("scope.theriseunion.io", "clusters"), "Workspace": ("scope.theriseunion.io", "workspaces"),
            "NodeGroup": ("scope.theriseunion.io", "nodegroups"), "Namespace": ("", "namespaces"),
            "Node": ("", "nodes")}[type(obj).__name__]


def _view_perm(obj) -> str:
    return f"{obj._meta.app_label}.view_{obj._meta.model_name}"


def _granted(platform, level: str, via: str, name: str = "alice"):
    """A user holding ``reader-<level>`` at the matrix's scope of ``level``: bound directly or through a group."""
    value, cluster = fleet.GRANT_AT[level]
    if via == "user":
        user = platform.user(name)
        platform.bind("b", f"reader-{level}", level, value, cluster, users=(name,))
    else:
        user = platform.user(name, groups=(f"{name}-team",))
        platform.bind("b", f"reader-{level}", level, value, cluster, groups=(f"{name}-team",))
    return User.objects.get(pk=user.pk)


@pytest.mark.parametrize("via", SUBJECTS)
@pytest.mark.parametrize("level", fleet.LEVELS)
def test_has_perm_reaches_exactly_the_bound_scope_and_below(platform, objs, level, via):
    user = _granted(platform, level, via)
    reached = {key for key, obj in objs.items() if engine.allowed(user, "get", *_resource_of(obj), obj.scope_path)}
    assert reached == EXPECTED[level]
    # pods (a Resource-level kind) follow the same cascade, through has_perm's Kubernetes spelling
    pods = {key for key, obj in objs.items() if user.has_perm("get:/pods", obj)}
    assert pods == EXPECTED[level]
    # and the Django spelling on the models themselves
    django_view = {key for key, obj in objs.items() if user.has_perm(_view_perm(obj), obj)}
    assert django_view == EXPECTED[level]
    # the rules grant reading only
    assert not any(user.has_perm(f"clusters.change_{obj._meta.model_name}", obj) for obj in objs.values())


@pytest.mark.parametrize("via", SUBJECTS)
@pytest.mark.parametrize("level", fleet.LEVELS)
def test_list_filter_lists_exactly_what_has_perm_allows(platform, objs, level, via):
    user = _granted(platform, level, via)
    key_of = {(type(obj), obj.pk): key for key, obj in objs.items()}
    for model in SCOPE_MODELS:
        expected = {key for key in EXPECTED[level] if isinstance(objs[key], model)}
        for verb in ("list", "get", "view"):
            listed = {key_of[(model, o.pk)] for o in model.objects.restrict(user, verb)}
            assert listed == expected, (model.__name__, verb)
        checked = {key_of[(model, o.pk)] for o in model.objects.all() if user.has_perm(_view_perm(o), o)}
        assert checked == expected, model.__name__


@pytest.mark.parametrize("via", SUBJECTS)
@pytest.mark.parametrize("level", fleet.LEVELS)
def test_ui_permissions_hold_exactly_at_the_bound_scope_and_below(platform, objs, level, via):
    user = _granted(platform, level, via)
    held = {f"{level}/everything.view"}
    for key, obj in objs.items():
        assert engine.ui_permissions(user, obj.scope_path) == (held if key in EXPECTED[level] else frozenset()), key
    assert engine.ui_permissions(user, "platform") == (held if level == "platform" else frozenset())


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
    assert not user.has_perm("clusters.change_namespace", ns)
    assert not user.has_perm("get:/pods", ns)  # a grant on the namespace is not one on its pods
    assert set(Namespace.objects.restrict(user, "get")) == {ns}
    remove_perm("view_namespace", user, ns)  # seen at once: guardian's rows write the grant change log
    assert not user.has_perm("clusters.view_namespace", ns)
    assert list(Namespace.objects.restrict(user, "get")) == []


def test_group_object_grants_reach_members_until_they_leave(platform, objs):
    user = platform.user("flo", groups=("auditors",))
    node = objs["c1/x3"]
    assign_perm("change_node", Group.objects.get(name="auditors"), node)
    assert user.has_perm("clusters.change_node", node)
    assert not user.has_perm("clusters.change_node", objs["c1/x2"])
    assert set(Node.objects.restrict(user, "update")) == {node}
    user.groups.clear()
    assert not user.has_perm("clusters.change_node", node)
    assert list(Node.objects.restrict(user, "update")) == []


# committed, not rolled back: grants read inside a transaction that changed IAM data are never cached
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_denied_django_spelled_checks_ask_no_query(platform, objs, settings, django_assert_num_queries):
    """GIVEN warm grants (one user with a binding, one with object grants of their own and of a group)
    WHEN asking Django-spelled checks on every fleet object THEN no query is run, allowed or denied."""
    settings.EDGE_AUTHZ_POLL_INTERVAL = 3600  # the change-log poll is not what this counts
    reader = platform.user("ivy")
    platform.bind("b", "reader-workspace", "workspace", "w1", users=("ivy",))
    holder = platform.user("jon", groups=("auditors",))
    assign_perm("view_namespace", holder, objs["c1/n3"])
    assign_perm("view_node", Group.objects.get(name="auditors"), objs["c1/x3"])
    for user in (reader, holder):  # warm L1 (and poll now: the next poll is an hour away)
        engine.allowed(user, "get", "", "pods", "platform")
    with django_assert_num_queries(0):
        read = {key for key, obj in objs.items() if reader.has_perm(_view_perm(obj), obj)}
        held = {key for key, obj in objs.items() if holder.has_perm(_view_perm(obj), obj)}
        changed = [key for key, obj in objs.items() if holder.has_perm(f"clusters.change_{obj._meta.model_name}", obj)]
    assert read == EXPECTED["workspace"]
    assert held == {"c1/n3", "c1/x3"}
    assert changed == []


def test_a_user_with_more_object_grants_than_the_cache_holds_is_answered_by_guardian(platform, objs,
                                                                                     monkeypatch):
    monkeypatch.setattr(objects, "CAP", 2)
    user = platform.user("kim")
    for key in ("c1/n1", "c1/n2", "c1/n3"):
        assign_perm("view_namespace", user, objs[key])
    assert engine.grants(user).object_perms is None  # only the note "many"
    assert {key for key, obj in objs.items() if user.has_perm(_view_perm(obj), obj)} == {"c1/n1", "c1/n2", "c1/n3"}
    assert {n.name for n in Namespace.objects.restrict(user, "view")} == {"n1", "n2", "n3"}


def test_object_grants_on_models_without_a_kind_are_guardians(platform):
    user = platform.user("lee")
    other = Group.objects.create(name="unrelated")
    assign_perm("auth.change_group", user, other)
    assert user.has_perm("auth.change_group", other)
    assert not user.has_perm("auth.delete_group", other)
    assert not platform.user("max").has_perm("auth.change_group", other)


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


IAM_READ = [{"apiGroups": ["iam.theriseunion.io"], "resources": ["*"], "verbs": fleet.READ}]


@pytest.fixture
def sample(platform, objs):
    """Users whose grants exercise every rule of visibility, over a fleet with every kind of object.

    Returns {name: user}. Besides the fleet's scopes and its prototype roles (``reader-<level>``) and the
    built-in templates and roles there are pinned roles, bindings, groups and a category.
    """
    platform.apply(
        fleet.role_manifest("w1-team", "workspace", fleet.ALL_KINDS, value="w1"),
        fleet.role_manifest("w3-team", "workspace", fleet.ALL_KINDS, value="w3"),
        fleet.role_manifest("iam-reader", "cluster", IAM_READ),
        fleet.role_manifest("one-binding", "workspace", [
            {"apiGroups": ["iam.theriseunion.io"], "resources": ["iamrolebindings"], "resourceNames": ["nv-n1"],
             "verbs": fleet.READ}]),
        {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Category", "metadata": {"name": "ops"}, "spec": {}})
    users = {name: platform.user(name) for name in ("nobody", "cv", "wv", "nv", "iam", "named", "objs")}
    users["gv"] = platform.user("gv", groups=("site-ops",))
    users["root"] = platform.user("root", superuser=True)
    users["off"] = platform.user("off")
    platform.bind("cv-c1", "cluster-viewer", "cluster", "c1", users=("cv",))
    platform.bind("wv-w1", "workspace-viewer", "workspace", "w1", users=("wv", "off"))
    platform.bind("gv-g1", "nodegroup-viewer", "nodegroup", "g1", groups=("site-ops",))
    platform.bind("nv-n1", "namespace-viewer", "namespace", "n1", "c1", users=("nv",))
    platform.bind("iam-c2", "iam-reader", "cluster", "c2", users=("iam",))
    platform.bind("named-w1", "one-binding", "workspace", "w1", users=("named",))
    assign_perm("view_namespace", users["objs"], objs["c2/n1"])
    assign_perm("view_iamrole", users["objs"], IAMRole.objects.get(name="w3-team"))
    assign_perm("view_user", users["objs"], users["cv"])
    assign_perm("view_usergroup", Group.objects.get(name="site-ops"), users["gv"].groups.get().meta)
    users["off"].is_active = False
    users["off"].save()
    return {name: User.objects.get(pk=user.pk) for name, user in users.items()}


def test_list_filter_and_has_perm_agree_for_every_kind(sample):
    """GIVEN the sample WHEN listing every kind with ``restrict(user, "view")`` and asking ``has_perm`` of
    every row THEN a row is listed exactly when has_perm allows it."""
    disagreements = []
    for converter in registered():
        model = converter.model
        perm = f"{model._meta.app_label}.view_{model._meta.model_name}"
        for name, user in sample.items():
            listed = set(model.objects.restrict(user, "view").values_list("pk", flat=True))
            for obj in model.objects.all():
                if (obj.pk in listed) != user.has_perm(perm, obj):
                    disagreements.append((name, converter.kind, obj.name, obj.pk in listed))
    assert disagreements == []


def _visible(user, model) -> set:
    listed = {obj.name for obj in model.objects.restrict(user, "view")}
    checked = {obj.name for obj in model.objects.all()
               if user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}", obj)}
    assert listed == checked
    return listed


def test_the_extra_readers_of_a_kind_are_the_same_for_one_object(sample):
    """The rules that widen who reads a kind (own user, prototypes, templates) hold for has_perm too."""
    # everyone reads their own user, and only that without a grant on users
    assert _visible(sample["nobody"], User) == {"nobody"}
    assert _visible(sample["objs"], User) == {"objs", "cv"}  # …plus one by an object grant
    assert _visible(sample["off"], User) == set()  # a disabled user reads nothing
    # reading roles at a cluster shows the prototypes of every level from the cluster down, no pinned roles
    cluster_roles = _visible(sample["cv"], IAMRole)
    assert {"cluster-viewer", "workspace-admin", "reader-node", "namespace-viewer"} <= cluster_roles
    assert "w1-team" in cluster_roles  # pinned under the cluster: the cascade
    assert not cluster_roles & {"platform-admin", "reader-platform", "w3-team"}
    # at a workspace: workspace and namespace prototypes, the workspace's own pinned role, not another's
    ws_roles = _visible(sample["wv"], IAMRole)
    assert {"workspace-viewer", "reader-namespace", "w1-team"} <= ws_roles
    assert not ws_roles & {"cluster-viewer", "reader-nodegroup", "w3-team"}
    assert "w3-team" in _visible(sample["objs"], IAMRole)  # an object grant on a pinned role
    # templates: the workspace viewer reads the workspace and namespace templates, no others
    levels = {t.level for t in RoleTemplate.objects.filter(name__in=_visible(sample["wv"], RoleTemplate))}
    assert levels == {"workspace", "namespace"}
    assert _visible(sample["nobody"], RoleTemplate) == set()
    # the extra readers read; they do not write
    prototype = IAMRole.objects.get(name="workspace-admin")
    assert not sample["cv"].has_perm("iam.change_iamrole", prototype)
    assert not sample["cv"].has_perm("iam.delete_iamrole", prototype)
    assert not sample["nobody"].has_perm("iam.change_user", sample["nobody"])
