"""Nodes and namespaces brought in from a member cluster (``clusters.member_sync``), against the emulated API
server: membership by label and by selector, an unchanged cluster costing one LIST per kind and no write, moves
and removals on the member followed, a platform assignment written back by server-side apply, an unreachable
member retried with its rows kept."""
from __future__ import annotations

import pytest
import yaml
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from kubernetes import client as k8s
from kubernetes import config

from clusters.member_sync import MEMBER_SYNC
from clusters.models import Namespace, Node
from edgeplatform import kube as gateway
from edgeplatform.controllers.engine import reconcile
from iam.audit.models import AuditEvent
from tests.support import ApiClient

FAST = {"EDGE_KUBE_RETRIES": 0, "EDGE_KUBE_READ_TIMEOUT": 2, "EDGE_KUBE_CONNECT_TIMEOUT": 0.5}
NODES = "/oapis/scope.theriseunion.io/v1alpha1/clusters/edge/nodes"


@pytest.fixture
def site(kube_clusters, platform, eager_celery):
    """Cluster ``edge`` on an emulator with groups ``line-a`` (by label) and ``arm`` (selector arch=arm64), a
    workspace ``shop``; nodes n1 (labelled line-a, KubeEdge), n2 (arm64, OpenYurt), n3 (neither)."""
    (emulator,) = kube_clusters(1)
    gateway.forget_clients()
    with override_settings(**FAST):
        platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "edge"},
                        "spec": {"type": "physical", "connection": {
                            "type": "direct", "kubeconfig": yaml.safe_dump(emulator.kubeconfig())}}})
        platform.nodegroup("line-a", "edge")
        platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "NodeGroup",
                        "metadata": {"name": "arm", "labels": {"scope.theriseunion.io/cluster": "edge"}},
                        "spec": {"selector": {"matchLabels": {"kubernetes.io/arch": "arm64"}}}})
        platform.workspace("shop", "edge")
        emulator.add_node("n1", labels={"theriseunion.io/nodegroup": "line-a", "node-role.kubernetes.io/edge": ""})
        emulator.add_node("n2", labels={"kubernetes.io/arch": "arm64", "openyurt.io/is-edge-worker": "true"})
        emulator.add_node("n3")
        api = k8s.CoreV1Api(config.new_client_from_config(str(emulator.kubeconfig_path)))
        api.create_namespace({"metadata": {"name": "orders", "labels": {"theriseunion.io/workspace": "shop"}}})
        yield emulator, api
    gateway.forget_clients()


def sync():
    from clusters.models import Cluster

    return reconcile(MEMBER_SYNC, Cluster.objects.get(name="edge").pk)


def nodes() -> dict:
    return {n.name: (n.nodegroup.name if n.nodegroup_id else None) for n in Node.objects.select_related("nodegroup")}


def test_the_first_sync_brings_nodes_and_namespaces_with_their_groups_workspaces_and_runtimes(site):
    # WHEN the cluster is synced
    outcome = sync()
    # THEN every node is there, in its group by label or by selector, with its edge runtime and readiness
    assert outcome.result == "success", outcome
    assert nodes() == {"n1": "line-a", "n2": "arm", "n3": None}
    n1 = Node.objects.get(name="n1")
    assert n1.scope_path == "clusters/edge/nodegroups/line-a/nodes/n1"
    assert n1.labels["node-role.kubernetes.io/edge"] == "" and n1.status["edgeRuntime"] == "kubeedge"
    assert Node.objects.get(name="n2").status["edgeRuntime"] == "openyurt"
    assert Node.objects.get(name="n3").status["edgeRuntime"] == "none"
    assert n1.status["ready"] == "Unknown"  # no kubelet has reported yet
    # AND the namespaces, the labelled one in its workspace with its phase
    orders = Namespace.objects.select_related("workspace").get(name="orders")
    assert orders.workspace.name == "shop" and orders.status == {"phase": "Active"}
    assert Namespace.objects.filter(name="kube-system", workspace=None).exists()
    # AND each creation was audited as the system's
    assert AuditEvent.objects.filter(resource="nodes", name="n1", verb="create").exists()


def test_a_second_sync_with_nothing_changed_makes_one_list_per_kind_and_no_write(site):
    emulator, _ = site
    assert sync().result == "success"
    emulator.requests.clear()
    audited = AuditEvent.objects.count()
    # WHEN the cluster is synced again with nothing changed
    with CaptureQueriesContext(connection) as queries:
        outcome = sync()
    # THEN one LIST of nodes and one of namespaces, and nothing written to the member or the database rows
    assert outcome.value == {"cluster": "edge", "created": 0, "updated": 0, "statusUpdated": 0, "deleted": 0,
                             "nodeResourceVersion": outcome.value["nodeResourceVersion"],
                             "namespaceResourceVersion": outcome.value["namespaceResourceVersion"]}
    assert [(r.method, r.verb) for r in emulator.requests] == [("GET", "list"), ("GET", "list")]
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
              and ("clusters_node" in q["sql"] or "clusters_namespace" in q["sql"] or "audit" in q["sql"])]
    assert writes == [] and AuditEvent.objects.count() == audited


def test_readiness_reported_by_the_kubelet_reaches_the_status_without_churning_on_heartbeats(site):
    emulator, _ = site
    emulator.kubelet_on([])
    try:
        assert emulator.settle()
        outcome = sync()
        n1 = Node.objects.get(name="n1")
        assert n1.status["ready"] == "True" and n1.status["conditions"]
        assert all("lastHeartbeatTime" not in c for c in n1.status["conditions"])
        assert outcome.value["statusUpdated"] >= 3
    finally:
        emulator.kubelet_off()


def test_a_label_change_on_the_member_moves_the_node_and_what_the_member_removed_goes(site):
    _, api = site
    assert sync().result == "success"
    # WHEN n3 is labelled into line-a and n2 is deleted on the member
    api.patch_node("n3", {"metadata": {"labels": {"theriseunion.io/nodegroup": "line-a"}}})
    api.delete_node("n2")
    api.delete_namespace("orders")
    outcome = sync()
    # THEN n3 moved to line-a, n2 and the namespace are gone from the platform, each audited
    assert (outcome.value["updated"], outcome.value["deleted"]) == (1, 2)
    assert nodes() == {"n1": "line-a", "n3": "line-a"}
    assert Node.objects.get(name="n3").scope_path == "clusters/edge/nodegroups/line-a/nodes/n3"
    assert not Namespace.objects.filter(name="orders").exists()
    assert AuditEvent.objects.filter(resource="nodes", name="n2", verb="delete").exists()
    assert AuditEvent.objects.filter(resource="namespaces", name="orders", verb="delete").exists()


def test_a_label_naming_an_unknown_group_leaves_the_node_under_its_cluster(site):
    emulator, _ = site
    emulator.add_node("n4", labels={"theriseunion.io/nodegroup": "nowhere"})
    assert sync().result == "success"
    assert nodes()["n4"] is None


def test_a_platform_assignment_is_written_on_the_member_by_apply_and_the_next_sync_keeps_it(
        site, platform, django_capture_on_commit_callbacks):
    emulator, api = site
    assert sync().result == "success"
    admin = ApiClient.for_user(platform.user("root", superuser=True))
    emulator.requests.clear()
    # WHEN an administrator assigns n3 to line-a through the API
    body = admin.get(f"{NODES}/n3").json()
    body["metadata"]["labels"]["theriseunion.io/nodegroup"] = "line-a"
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin.put(f"{NODES}/n3", body)
    assert answer.status_code == 200, answer.content
    # THEN the member's node carries the label, applied by edge-platform
    assert api.read_node("n3").metadata.labels["theriseunion.io/nodegroup"] == "line-a"
    assert emulator.requests.count(method="PATCH") == 1
    managers = {m.manager for m in api.read_node("n3").metadata.managed_fields}
    assert "edge-platform" in managers
    # AND the next sync keeps it, with nothing to write
    outcome = sync()
    assert nodes()["n3"] == "line-a" and outcome.value["updated"] == 0
    # WHEN the assignment is taken away on the platform THEN the member's label goes too
    body = admin.get(f"{NODES}/n3").json()
    del body["metadata"]["labels"]["theriseunion.io/nodegroup"]
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.put(f"{NODES}/n3", body).status_code == 200
    assert api.read_node("n3").metadata.labels == {"kubernetes.io/hostname": "n3", "kubernetes.io/os": "linux",
                                                   "kubernetes.io/arch": "amd64"}
    assert sync().value["updated"] == 0 and nodes()["n3"] is None


def test_a_namespace_assigned_to_a_workspace_on_the_platform_is_labelled_on_the_member(
        site, platform, django_capture_on_commit_callbacks):
    _, api = site
    assert sync().result == "success"
    admin = ApiClient.for_user(platform.user("root", superuser=True))
    url = "/oapis/scope.theriseunion.io/v1alpha1/clusters/edge/namespaces/default"
    body = admin.get(url).json()
    body["metadata"].setdefault("labels", {})["theriseunion.io/workspace"] = "shop"
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.put(url, body).status_code == 200
    assert api.read_namespace("default").metadata.labels["theriseunion.io/workspace"] == "shop"
    assert sync().value["updated"] == 0
    assert Namespace.objects.get(name="default", cluster__name="edge").workspace.name == "shop"


def test_an_unreachable_member_is_retried_with_backoff_and_its_rows_are_kept(site):
    emulator, _ = site
    assert sync().result == "success"
    # WHEN the member answers 503 to the next sync
    emulator.fail_next(5, status=503)
    outcome = sync()
    # THEN the attempt is retried later and the platform's nodes stay as they were
    assert outcome.result == "retry" and outcome.retry_in > 0
    assert nodes() == {"n1": "line-a", "n2": "arm", "n3": None}


def test_beat_syncs_a_connected_cluster_again_once_the_period_has_passed(site, platform, monkeypatch):
    from datetime import timedelta

    from clusters.models import Cluster
    from edgeplatform.controllers import clock
    from edgeplatform.controllers.tasks import due

    platform.cluster("no-connection")
    edge = str(Cluster.objects.get(name="edge").pk)
    # GIVEN a cluster with a connection and one without THEN only the connected one is ever due
    assert due(MEMBER_SYNC) == [edge]
    assert sync().result == "success"
    assert due(MEMBER_SYNC) == []
    # WHEN EDGE_CLUSTER_SYNC_PERIOD has passed THEN it is due again
    later = clock.now() + timedelta(seconds=31)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert due(MEMBER_SYNC) == [edge]
