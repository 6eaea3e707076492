"""Native RBAC: the platform's bindings at Cluster, Workspace, Namespace, NodeGroup and Node level as
ClusterRoles and (Cluster)RoleBindings on the member clusters, checked object by object on emulated clusters.

GIVEN two member clusters reached through their stored connections, WHEN bindings, namespaces and nodes
change and the cluster is reconciled, THEN exactly the expected RBAC objects exist on the right cluster, an
unchanged re-translation writes nothing, and objects the platform did not make are left alone.
"""
from __future__ import annotations

import logging
import time
import uuid

import pytest
import yaml

from edgeplatform import kube as gateway
from edgeplatform.resources.loader import converter_for_manifest
from edgeplatform.resources.services import delete_object
from iam.models import IAMRoleBinding
from iam.native_rbac import reconcile_binding, reconcile_cluster
from tests.fleet import role_manifest

RBAC = "rbac.authorization.k8s.io"
MANAGED = {"app.kubernetes.io/managed-by": "edge-platform"}

APP_DEV_RULES = [
    {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
    {"apiGroups": ["iam.theriseunion.io"], "resources": ["iamroles"], "verbs": ["get"]},
    {"apiGroups": ["apps", "app.theriseunion.io"], "resources": ["deployments"], "verbs": ["*"]},
]
NODE_OPERATOR_RULES = [
    {"apiGroups": [""], "resources": ["nodes", "nodes/status"], "verbs": ["get", "patch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
    {"apiGroups": ["scope.theriseunion.io"], "resources": ["nodegroups"], "verbs": ["get"]},
]
CLUSTER_READER_RULES = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
    {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
    {"apiGroups": ["scope.theriseunion.io"], "resources": ["clusters"], "verbs": ["get"]},
]


def cluster_manifest(name: str, connection: dict) -> dict:
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": name},
            "spec": {"type": "physical", "connection": connection}}


def delete(obj) -> None:
    """Delete a platform object through the write path, as the API would."""
    kind = type(obj).__name__
    api_version = {"Namespace": "v1", "Node": "v1", "IAMRoleBinding": "iam.theriseunion.io/v1alpha1"}[kind]
    delete_object(converter_for_manifest({"apiVersion": api_version, "kind": kind}), obj)


def make_namespaces(cluster, *names) -> None:
    """Namespaces that exist on the member cluster itself (the platform does not create them here)."""
    client = gateway.member_client(cluster)
    for name in names:
        gateway.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def rbac(emulator, resource: str, namespace: str | None = None) -> dict[str, dict]:
    """The platform's RBAC objects of one kind on an emulated cluster, by name (namespace/name for bindings)."""
    out = {}
    for item in emulator.objects(resource, namespace=namespace):
        meta = item["metadata"]
        if (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") == "edge-platform":
            out[f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]] = item
    return out


@pytest.fixture
def fleet(kube_clusters, platform):
    """Clusters edge-1 (w1{a, b}, standalone ns c, g1{x1, x2}, node x3) and edge-2 (w2{a}), three roles."""
    edge1, edge2 = kube_clusters(2)
    c1 = platform.apply(cluster_manifest("edge-1", {"kubernetesAPIEndpoint": edge1.url}))[0]
    c2 = platform.apply(cluster_manifest("edge-2", {"kubernetesAPIEndpoint": edge2.url}))[0]
    platform.workspace("w1", "edge-1")
    platform.workspace("w2", "edge-2")
    platform.nodegroup("g1", "edge-1")
    for name, cluster, workspace in (("a", "edge-1", "w1"), ("b", "edge-1", "w1"), ("c", "edge-1", None),
                                     ("a", "edge-2", "w2")):
        platform.namespace(name, cluster, workspace)
    for name, group in (("x1", "g1"), ("x2", "g1"), ("x3", None)):
        platform.node(name, "edge-1", group)
    make_namespaces(c1, "a", "b", "c", "d")
    make_namespaces(c2, "a")
    platform.apply(role_manifest("app-dev", "workspace", APP_DEV_RULES),
                   role_manifest("ns-dev", "namespace", APP_DEV_RULES),
                   role_manifest("node-operator", "nodegroup", NODE_OPERATOR_RULES),
                   role_manifest("single-node-operator", "node", NODE_OPERATOR_RULES),
                   role_manifest("cluster-reader", "cluster", CLUSTER_READER_RULES))

    class Fleet:
        pass

    fleet = Fleet()
    fleet.edge1, fleet.edge2, fleet.c1, fleet.c2 = edge1, edge2, c1, c2
    return fleet


APP_DEV_TRANSLATED = [
    {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]},
]


def test_cluster_binding_becomes_a_cluster_role_binding(fleet, platform):
    platform.bind("readers", "cluster-reader", "cluster", "edge-1", users=("alice",), groups=("auditors",))
    result = reconcile_cluster(fleet.c1)
    assert not result.errors and result.writes == 2
    roles = rbac(fleet.edge1, "clusterroles")
    assert set(roles) == {"edge:role:cluster-reader"}
    role = roles["edge:role:cluster-reader"]
    assert role["metadata"]["labels"] == {**MANAGED, "iam.theriseunion.io/role": "cluster-reader"}
    # the platform-only group is dropped; the wildcard and the non-resource URL rule stay
    assert role["rules"] == [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                             {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]
    bindings = rbac(fleet.edge1, "clusterrolebindings")
    assert set(bindings) == {"edge:binding:readers"}
    binding = bindings["edge:binding:readers"]
    assert binding["metadata"]["labels"] == {**MANAGED, "iam.theriseunion.io/role": "cluster-reader",
                                             "iam.theriseunion.io/binding": "readers"}
    assert binding["metadata"]["annotations"]["iam.theriseunion.io/scope-path"] == "clusters/edge-1"
    assert binding["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole", "name": "edge:role:cluster-reader"}
    assert binding["subjects"] == [{"kind": "User", "apiGroup": RBAC, "name": "alice"},
                                   {"kind": "Group", "apiGroup": RBAC, "name": "auditors"}]
    assert [m["manager"] for m in binding["metadata"]["managedFields"]] == ["edge-platform"]
    assert not rbac(fleet.edge1, "rolebindings")


def test_namespace_binding_becomes_a_role_binding_in_that_namespace(fleet, platform):
    platform.bind("c-devs", "ns-dev", "namespace", "c", "edge-1", groups=("devs",))
    reconcile_cluster(fleet.c1)
    assert rbac(fleet.edge1, "clusterroles")["edge:role:ns-dev"]["rules"] == APP_DEV_TRANSLATED
    bindings = rbac(fleet.edge1, "rolebindings")
    assert set(bindings) == {"c/edge:binding:c-devs"}
    assert bindings["c/edge:binding:c-devs"]["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole",
                                                            "name": "edge:role:ns-dev"}
    assert bindings["c/edge:binding:c-devs"]["subjects"] == [{"kind": "Group", "apiGroup": RBAC, "name": "devs"}]
    assert not rbac(fleet.edge1, "clusterrolebindings")


def test_workspace_binding_fans_out_and_follows_its_namespaces(fleet, platform):
    platform.bind("w1-devs", "app-dev", "workspace", "w1", users=("bob",))
    reconcile_cluster(fleet.c1)
    bindings = rbac(fleet.edge1, "rolebindings")
    assert set(bindings) == {"a/edge:binding:w1-devs", "b/edge:binding:w1-devs"}
    for item in bindings.values():
        assert item["roleRef"]["name"] == "edge:role:app-dev"
        assert item["subjects"] == [{"kind": "User", "apiGroup": RBAC, "name": "bob"}]
        assert item["metadata"]["labels"]["iam.theriseunion.io/binding"] == "w1-devs"
    assert rbac(fleet.edge1, "clusterroles")["edge:role:app-dev"]["rules"] == APP_DEV_TRANSLATED

    # a namespace added to the workspace later gets the binding; one moved out and one deleted lose it
    platform.namespace("d", "edge-1", "w1")
    platform.namespace("b", "edge-1", None)
    delete(fleet.c1.namespaces.get(name="a"))
    result = reconcile_cluster(fleet.c1)
    assert set(rbac(fleet.edge1, "rolebindings")) == {"d/edge:binding:w1-devs"}
    assert sorted(k[1] for k in result.deleted) == ["a", "b"] and [k[1] for k in result.applied] == ["d"]


def test_node_group_binding_grants_on_exactly_the_nodes_of_the_group(fleet, platform):
    platform.bind("g1-ops", "node-operator", "nodegroup", "g1", users=("carol",))
    reconcile_cluster(fleet.c1)
    roles = rbac(fleet.edge1, "clusterroles")
    assert set(roles) == {"edge:binding:g1-ops"}  # no shared role ClusterRole: the rules are per node set
    assert roles["edge:binding:g1-ops"]["metadata"]["labels"]["iam.theriseunion.io/binding"] == "g1-ops"
    # pods cannot be confined to nodes by RBAC and the platform group is not served: only node rules remain
    assert roles["edge:binding:g1-ops"]["rules"] == [
        {"apiGroups": [""], "resources": ["nodes", "nodes/status"], "resourceNames": ["x1", "x2"],
         "verbs": ["get", "patch"]}]
    binding = rbac(fleet.edge1, "clusterrolebindings")["edge:binding:g1-ops"]
    assert binding["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole", "name": "edge:binding:g1-ops"}

    platform.node("x3", "edge-1", "g1")  # joins
    platform.node("x1", "edge-1", None)  # leaves
    reconcile_cluster(fleet.c1)
    assert rbac(fleet.edge1, "clusterroles")["edge:binding:g1-ops"]["rules"][0]["resourceNames"] == ["x2", "x3"]

    # an empty group grants nothing: resourceNames [] would mean "every node", so the objects go
    platform.node("x2", "edge-1", None)
    platform.node("x3", "edge-1", None)
    reconcile_cluster(fleet.c1)
    assert not rbac(fleet.edge1, "clusterroles") and not rbac(fleet.edge1, "clusterrolebindings")


def test_node_binding_grants_on_that_node(fleet, platform):
    platform.bind("x3-ops", "single-node-operator", "node", "x3", "edge-1", groups=("night-shift",))
    reconcile_cluster(fleet.c1)
    role = rbac(fleet.edge1, "clusterroles")["edge:binding:x3-ops"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes", "nodes/status"], "resourceNames": ["x3"],
                              "verbs": ["get", "patch"]}]
    assert rbac(fleet.edge1, "clusterrolebindings")["edge:binding:x3-ops"]["subjects"] == [
        {"kind": "Group", "apiGroup": RBAC, "name": "night-shift"}]


def test_a_deleted_binding_takes_its_objects_and_unused_roles_with_it(fleet, platform):
    platform.bind("w1-devs", "app-dev", "workspace", "w1", users=("bob",))
    platform.bind("c-devs", "ns-dev", "namespace", "c", "edge-1", users=("bob",))
    platform.bind("g1-ops", "node-operator", "nodegroup", "g1", users=("carol",))
    reconcile_cluster(fleet.c1)
    assert set(rbac(fleet.edge1, "clusterroles")) == {"edge:role:app-dev", "edge:role:ns-dev",
                                                      "edge:binding:g1-ops"}
    delete(IAMRoleBinding.objects.get(name="w1-devs"))
    delete(IAMRoleBinding.objects.get(name="g1-ops"))
    reconcile_cluster(fleet.c1)
    assert set(rbac(fleet.edge1, "clusterroles")) == {"edge:role:ns-dev"}
    assert set(rbac(fleet.edge1, "rolebindings")) == {"c/edge:binding:c-devs"}
    assert not rbac(fleet.edge1, "clusterrolebindings")


def test_targeted_reconcile_of_one_binding(fleet, platform):
    platform.bind("w1-devs", "app-dev", "workspace", "w1", users=("bob",))
    platform.bind("c-devs", "ns-dev", "namespace", "c", "edge-1", users=("bob",))
    result = reconcile_binding(fleet.c1, "w1-devs")
    # its RoleBindings and every role ClusterRole the cluster needs; the other binding waits for its own run
    assert set(rbac(fleet.edge1, "rolebindings")) == {"a/edge:binding:w1-devs", "b/edge:binding:w1-devs"}
    assert set(rbac(fleet.edge1, "clusterroles")) == {"edge:role:app-dev", "edge:role:ns-dev"}
    assert result.writes == 4
    reconcile_binding(fleet.c1, "c-devs")
    fleet.edge1.requests.clear()
    assert reconcile_binding(fleet.c1, "c-devs").writes == 0
    assert fleet.edge1.requests.count_writes() == 0
    delete(IAMRoleBinding.objects.get(name="w1-devs"))
    result = reconcile_binding(fleet.c1, "w1-devs")
    assert set(rbac(fleet.edge1, "rolebindings")) == {"c/edge:binding:c-devs"}
    assert set(rbac(fleet.edge1, "clusterroles")) == {"edge:role:ns-dev"}
    assert result.writes == 3


def test_an_unchanged_re_translation_makes_no_writes(fleet, platform):
    platform.bind("readers", "cluster-reader", "cluster", "edge-1", users=("alice",))
    platform.bind("w1-devs", "app-dev", "workspace", "w1", users=("bob",))
    platform.bind("g1-ops", "node-operator", "nodegroup", "g1", users=("carol",))
    first = reconcile_cluster(fleet.c1)
    assert first.writes == 7 and not first.errors
    fleet.edge1.requests.clear()
    again = reconcile_cluster(fleet.c1)
    assert again.writes == 0 and again.unchanged == 7
    assert fleet.edge1.requests.count_writes() == 0
    # reads: one list per kind we own plus the namespaces
    assert fleet.edge1.requests.by_verb() == {"list": 4}


def test_hand_edits_of_our_objects_are_repaired(fleet, platform):
    platform.bind("w1-devs", "app-dev", "workspace", "w1", users=("bob",))
    reconcile_cluster(fleet.c1)
    client = gateway.member_client(fleet.c1)
    role = fleet.edge1.object("clusterroles", "edge:role:app-dev")
    gateway.apply(client, {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                           "metadata": {"name": "edge:role:app-dev"},
                           "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
                  field_manager="kubectl")
    result = reconcile_cluster(fleet.c1)
    assert [k[2] for k in result.applied] == ["edge:role:app-dev"]
    assert fleet.edge1.object("clusterroles", "edge:role:app-dev")["rules"] == role["rules"] == APP_DEV_TRANSLATED


def test_a_binding_moved_to_another_role_is_re_created(fleet, platform):
    platform.bind("c-devs", "ns-dev", "namespace", "c", "edge-1", users=("bob",))
    platform.apply(role_manifest("ns-viewer", "namespace", [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]))
    reconcile_cluster(fleet.c1)
    # roleRef is immutable on both sides: the binding is deleted and made again under the same name
    delete(IAMRoleBinding.objects.get(name="c-devs"))
    platform.bind("c-devs", "ns-viewer", "namespace", "c", "edge-1", users=("bob",))
    result = reconcile_cluster(fleet.c1)
    assert not result.errors
    binding = fleet.edge1.object("rolebindings", "edge:binding:c-devs", "c")
    assert binding["roleRef"]["name"] == "edge:role:ns-viewer"
    assert binding["metadata"]["labels"]["iam.theriseunion.io/role"] == "ns-viewer"
    assert set(rbac(fleet.edge1, "clusterroles")) == {"edge:role:ns-viewer"}


def test_other_clusters_and_objects_not_ours_are_left_alone(fleet, platform):
    client1 = gateway.member_client(fleet.c1)
    foreign = [
        {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "edge:role:app-dev-old"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
        {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": "team", "namespace": "a",
                                                                         "labels": {"team": "x"}},
         "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
         "subjects": [{"kind": "User", "apiGroup": RBAC, "name": "dave"}]},
    ]
    for manifest in foreign:
        gateway.apply(client1, manifest, field_manager="kubectl")
    platform.bind("w1-devs", "app-dev", "workspace", "w1", users=("bob",))
    platform.bind("w2-devs", "app-dev", "workspace", "w2", users=("erin",))
    reconcile_cluster(fleet.c1)
    reconcile_cluster(fleet.c2)
    assert set(rbac(fleet.edge2, "rolebindings")) == {"a/edge:binding:w2-devs"}
    assert set(rbac(fleet.edge1, "rolebindings")) == {"a/edge:binding:w1-devs", "b/edge:binding:w1-devs"}

    delete(IAMRoleBinding.objects.get(name="w1-devs"))
    reconcile_cluster(fleet.c1)
    assert not rbac(fleet.edge1, "rolebindings") and not rbac(fleet.edge1, "clusterroles")
    # the other cluster keeps its objects; the unlabelled ones on this cluster survive
    assert set(rbac(fleet.edge2, "rolebindings")) == {"a/edge:binding:w2-devs"}
    assert set(rbac(fleet.edge2, "clusterroles")) == {"edge:role:app-dev"}
    assert fleet.edge1.object("clusterroles", "edge:role:app-dev-old")
    assert fleet.edge1.object("rolebindings", "team", "a")


def test_a_namespace_missing_on_the_cluster_is_bound_once_it_exists(fleet, platform):
    platform.namespace("late", "edge-1", "w1")
    platform.bind("w1-devs", "app-dev", "workspace", "w1", users=("bob",))
    result = reconcile_cluster(fleet.c1)
    assert result.missing_namespaces == ["late"] and not result.errors
    make_namespaces(fleet.c1, "late")
    result = reconcile_cluster(fleet.c1)
    assert [k[1] for k in result.applied] == ["late"]
    assert fleet.edge1.object("rolebindings", "edge:binding:w1-devs", "late")


def test_long_names_are_cut_with_a_digest(fleet, platform):
    name = "team-" + "x" * 240
    platform.bind(name, "ns-dev", "namespace", "c", "edge-1", users=("bob",))
    reconcile_cluster(fleet.c1)
    (key,) = rbac(fleet.edge1, "rolebindings")
    object_name = key.split("/", 1)[1]
    assert len(object_name) == 253 and object_name.startswith("edge:binding:team-xxx")
    item = fleet.edge1.object("rolebindings", object_name, "c")
    assert len(item["metadata"]["labels"]["iam.theriseunion.io/binding"]) == 63
    assert item["metadata"]["annotations"]["iam.theriseunion.io/binding"] == name
    delete(IAMRoleBinding.objects.get(name=name))
    assert reconcile_binding(fleet.c1, name).writes == 2  # found again by its label: binding and role go
    assert not rbac(fleet.edge1, "rolebindings")


def test_a_cluster_without_connection_is_skipped(platform, caplog):
    cluster = platform.cluster("bare")
    caplog.set_level(logging.INFO, logger="iam.native_rbac")
    result = reconcile_cluster(cluster)
    assert result.skipped and result.writes == 0
    assert 'cluster bare skipped: cluster "bare" has no stored connection' in caplog.text


def forget_pending_batches() -> None:
    """Drop the reconciles the fixture's writes queued: a test runs in one transaction, so without this the
    test's own changes would join the batch of the setup instead of one of their own."""
    from django.db import connection

    from iam.native_rbac.triggers import _Batch

    connection.run_on_commit = [entry for entry in connection.run_on_commit if not isinstance(entry[1], _Batch)]


def batches(callbacks) -> list:
    from iam.native_rbac.triggers import _Batch

    return [c for c in callbacks if isinstance(c, _Batch)]


def test_changes_queue_reconciles_after_commit(fleet, platform, eager_celery, django_capture_on_commit_callbacks):
    forget_pending_batches()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        platform.bind("w1-devs", "app-dev", "workspace", "w1", users=("bob",))
    assert len(batches(callbacks)) == 1
    assert set(rbac(fleet.edge1, "rolebindings")) == {"a/edge:binding:w1-devs", "b/edge:binding:w1-devs"}

    forget_pending_batches()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        platform.namespace("d", "edge-1", "w1")
        platform.namespace("c", "edge-1", "w1")
    assert len(batches(callbacks)) == 1
    assert set(rbac(fleet.edge1, "rolebindings")) == {f"{ns}/edge:binding:w1-devs" for ns in "abcd"}

    forget_pending_batches()
    with django_capture_on_commit_callbacks(execute=True):
        delete(IAMRoleBinding.objects.get(name="w1-devs"))
    assert not rbac(fleet.edge1, "rolebindings") and not rbac(fleet.edge1, "clusterroles")


def test_one_transaction_queues_one_reconcile(fleet, platform, django_capture_on_commit_callbacks):
    from django.db import transaction

    forget_pending_batches()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            for index in range(5):
                platform.namespace(f"n{index}", "edge-1", "w1")
            platform.bind("w1-devs", "app-dev", "workspace", "w1", users=("bob",))
    (batch,) = batches(callbacks)
    assert batch.clusters == {"edge-1"} and batch.bindings == {("edge-1", "w1-devs")}


def test_the_task_runs_as_the_rbac_sync_actor(fleet, platform, monkeypatch):
    from iam.audit import context as audit_context
    from iam.native_rbac import tasks

    seen = []
    original = tasks.reconcile_cluster

    def spy(cluster):
        seen.append(audit_context.current().actor)
        return original(cluster)

    monkeypatch.setattr(tasks, "reconcile_cluster", spy)
    platform.bind("w1-devs", "app-dev", "workspace", "w1", users=("bob",))
    summary = tasks.reconcile_cluster_task.apply(args=[fleet.c1.pk]).get()
    monkeypatch.undo()
    assert seen == ["system:rbac-sync"]
    assert summary == {"cluster": "edge-1", "skipped": "", "applied": 3, "deleted": 0, "unchanged": 0,
                       "missingNamespaces": []}
    # a second run of the same task is harmless
    assert tasks.reconcile_cluster_task.apply(args=[fleet.c1.pk]).get()["unchanged"] == 3


@pytest.mark.realcluster
@pytest.mark.django_db
def test_a_real_api_server_accepts_the_objects(kube, platform):
    """The objects of every level against a real kube-apiserver: created, unchanged on a repeat, removed.

    Use a cluster for tests: the full reconcile also removes platform-made RBAC objects left by earlier runs.
    """
    suffix = uuid.uuid4().hex[:6]
    cluster = platform.apply(cluster_manifest(f"real-{suffix}", {
        "kubeconfig": yaml.safe_dump(yaml.safe_load(kube.kubeconfig_path.read_text()))}))[0]
    client = gateway.member_client(cluster)
    names = [f"edge-rbac-{suffix}-a", f"edge-rbac-{suffix}-b"]
    platform.workspace(f"w-{suffix}", cluster.name)
    platform.nodegroup(f"g-{suffix}", cluster.name)
    for name in names:
        platform.namespace(name, cluster.name, f"w-{suffix}")
    platform.node(f"node-{suffix}", cluster.name, f"g-{suffix}")
    make_namespaces(cluster, *names)
    platform.apply(role_manifest("app-dev", "workspace", APP_DEV_RULES),
                   role_manifest("node-operator", "nodegroup", NODE_OPERATOR_RULES),
                   role_manifest("single-node-operator", "node", NODE_OPERATOR_RULES),
                   role_manifest("cluster-reader", "cluster", CLUSTER_READER_RULES))
    platform.bind(f"r-{suffix}", "cluster-reader", "cluster", cluster.name, users=("alice",))
    platform.bind(f"w-{suffix}", "app-dev", "workspace", f"w-{suffix}", groups=("devs",))
    platform.bind(f"g-{suffix}", "node-operator", "nodegroup", f"g-{suffix}", users=("carol",))
    platform.bind(f"n-{suffix}", "single-node-operator", "node", f"node-{suffix}", cluster.name, users=("dan",))
    version = f"{RBAC}/v1"
    try:
        first = reconcile_cluster(cluster)
        assert not first.errors, first.errors
        binding = gateway.get(client, version, "RoleBinding", f"edge:binding:w-{suffix}", names[0])
        assert binding["roleRef"]["name"] == "edge:role:app-dev"
        node_role = gateway.get(client, version, "ClusterRole", f"edge:binding:g-{suffix}")
        assert node_role["rules"][0]["resourceNames"] == [f"node-{suffix}"]
        assert gateway.get(client, version, "ClusterRoleBinding", f"edge:binding:r-{suffix}")
        time.sleep(0.5)
        again = reconcile_cluster(cluster)
        assert again.writes == 0 and not again.errors
    finally:
        IAMRoleBinding.objects.filter(name__endswith=suffix).delete()
        reconcile_cluster(cluster)
        for name in names:
            gateway.ensure_absent(client, "v1", "Namespace", name)
    assert gateway.get(client, version, "ClusterRoleBinding", f"edge:binding:r-{suffix}") is None


def test_a_disabled_user_is_left_out_and_comes_back_when_enabled(fleet, platform,
                                                                 django_capture_on_commit_callbacks):
    bob = platform.user("bob")
    platform.bind("c-devs", "ns-dev", "namespace", "c", "edge-1", users=("bob", "alice"))
    reconcile_cluster(fleet.c1)
    forget_pending_batches()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        bob.is_active = False
        bob.save()
    (batch,) = batches(callbacks)
    assert batch.clusters == {"edge-1"}
    reconcile_cluster(fleet.c1)
    assert fleet.edge1.object("rolebindings", "edge:binding:c-devs", "c")["subjects"] == [
        {"kind": "User", "apiGroup": RBAC, "name": "alice"}]
    bob.is_active = True
    bob.save()
    reconcile_cluster(fleet.c1)
    assert [s["name"] for s in fleet.edge1.object("rolebindings", "edge:binding:c-devs", "c")["subjects"]] == [
        "bob", "alice"]


def test_only_a_new_or_changed_connection_queues_a_cluster_reconcile(fleet, platform,
                                                                      django_capture_on_commit_callbacks):
    from clusters.models import Cluster

    forget_pending_batches()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cluster = Cluster.objects.get(name="edge-1")
        cluster.status = {"phase": "Ready"}
        cluster.save()
    assert batches(callbacks) == []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        platform.apply(cluster_manifest("edge-1", {"kubernetesAPIEndpoint": fleet.edge2.url}))
    (batch,) = batches(callbacks)
    assert batch.clusters == {"edge-1"}


def test_a_binding_moved_to_another_cluster_leaves_the_old_one_at_once(fleet, platform, eager_celery,
                                                                        django_capture_on_commit_callbacks):
    from tests.support import binding_manifest

    forget_pending_batches()
    with django_capture_on_commit_callbacks(execute=True):
        platform.bind("devs", "app-dev", "workspace", "w1", users=("bob",))
    assert set(rbac(fleet.edge1, "rolebindings")) == {"a/edge:binding:devs", "b/edge:binding:devs"}
    # WHEN the binding is moved to a workspace of the other cluster
    forget_pending_batches()
    with django_capture_on_commit_callbacks(execute=True):
        platform.apply(binding_manifest("devs", "app-dev", "workspace", "w2", users=("bob",)))
    # THEN it is gone from edge-1 and written to edge-2 in the same round, not at the next beat reconcile
    assert not rbac(fleet.edge1, "rolebindings")
    assert set(rbac(fleet.edge2, "rolebindings")) == {"a/edge:binding:devs"}


def test_a_namespace_status_update_queues_no_reconcile(fleet, platform, django_capture_on_commit_callbacks):
    from clusters.models import Namespace

    forget_pending_batches()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        row = Namespace.objects.get(name="a", cluster__name="edge-1")
        row.status = {"phase": "Active"}
        row.save()
    assert not batches(callbacks)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        platform.namespace("e", "edge-1", "w1")
    assert len(batches(callbacks)) == 1
