"""Rolling an application deployment out to node groups of emulated clusters: the workload provisioner end to end,
version resolution, upgrades on approval, rollbacks, pruning, deletion and the no-op reconcile."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings

from appstore import review, services
from appstore.controller import CONTROLLER
from appstore.models import ApplicationDeployment, DeploymentTopology
from edgeplatform.controllers import clock
from tests.appstore.rollout_support import (
    FAST,
    application,
    deployment,
    person,
    run,
    settle,
    site,
    version,
    workload_config,
    workloads,
    writes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shops(kube_clusters, platform):
    """Two member clusters: ``north`` (groups shop-1, shop-2) and ``south`` (shop-3), kubelets on."""
    north, south = kube_clusters(2)
    with override_settings(**FAST):
        site(platform, "north", north, ["shop-1", "shop-2"])
        site(platform, "south", south, ["shop-3"])
        yield north, south


def until_running(row, *emulators, attempts: int = 10):
    """Reconcile until the deployment is Running (the kubelets settling in between)."""
    for _ in range(attempts):
        outcome = run(row)
        if row.phase == "Running":
            return outcome
        settle(*emulators)
    raise AssertionError(f"not Running: {row.status.get('phase')} {row.status.get('message')}")


def test_workload_rolled_to_node_groups_with_overrides(shops, platform):
    north, south = shops
    application(platform)
    version(platform, "pos", "1.0.0", config=workload_config(stateful=True))
    row = deployment(platform, "pos", "pos", [
        {"nodeGroup": "shop-1", "replicas": 2,
         "workloadOverride": {"deployments": [{"name": "web", "spec": {"template": {"spec": {"containers": [
             {"name": "web", "env": [{"name": "MODE", "value": "flagship"}]}]}}}}]}},
        {"nodeGroup": "shop-2"},
        {"nodeGroup": "shop-3", "replicas": 3}])

    until_running(row, north, south)

    made = workloads(north)
    assert sorted(made) == ["pos-web-shop-1", "pos-web-shop-2"]
    web1 = made["pos-web-shop-1"]
    labels = web1["metadata"]["labels"]
    assert labels["app.theriseunion.io/application"] == "pos"
    assert labels["app.theriseunion.io/version"] == "1.0.0"
    assert labels["app.theriseunion.io/deployment"] == "pos"
    assert labels["app.theriseunion.io/workload"] == "web"
    assert labels["theriseunion.io/nodegroup"] == "shop-1"
    assert labels["app.theriseunion.io/topology-index"] == "0"
    pod = web1["spec"]["template"]
    assert pod["metadata"]["labels"]["app.theriseunion.io/topology-hash"] == labels["app.theriseunion.io/topology-hash"]
    assert pod["spec"]["nodeSelector"] == {"theriseunion.io/nodegroup": "shop-1"}
    assert web1["spec"]["replicas"] == 2
    container = pod["spec"]["containers"][0]
    assert container["image"] == "registry.example/pos:1.0.0"
    assert container["env"] == [{"name": "MODE", "value": "flagship"}]
    assert made["pos-web-shop-2"]["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "MODE", "value": "shop"}]
    assert sorted(workloads(north, kind="statefulsets")) == ["pos-db-shop-1", "pos-db-shop-2"]
    assert workloads(south)["pos-web-shop-3"]["spec"]["replicas"] == 3
    assert north.object("namespaces", "shop") and south.object("namespaces", "shop")
    pods = [p for p in south.objects("pods", namespace="shop") if p["metadata"]["name"].startswith("pos-web")]
    assert {p["spec"]["nodeName"] for p in pods} == {"shop-3-n0"}

    status = row.status
    assert status["phase"] == "Running"
    assert status["applicationVersion"] == "1.0.0" and status["applicationVersionName"] == "pos-1-0-0"
    assert status["application"] == "pos"
    # a topology's replicas are every workload's there: web + db on shop-1 (2 + 2), shop-2 (1 + 1), shop-3 (3 + 3)
    assert status["readyStatus"] == "12/12" and status["readyReplicas"] == status["totalReplicas"] == 12
    assert workloads(north, kind="statefulsets")["pos-db-shop-1"]["spec"]["serviceName"] == "pos-db-shop-1"
    assert status["workloadCount"] == 6 and status["readyWorkloadCount"] == 6
    entries = status["topologyStatuses"]
    assert [e["topologyIndex"] for e in entries] == [0, 1, 2]
    assert entries[2]["workloadName"] == "pos-db-shop-3,pos-web-shop-3"
    assert entries[2]["nodes"] == ["shop-3-n0"] and entries[2]["phase"] == "Running"
    assert [entry["reason"] for entry in status["history"]] == ["Initial"]


def test_no_change_reconcile_sends_no_write(shops, platform, monkeypatch):
    north, south = shops
    application(platform)
    version(platform, "pos", "1.0.0")
    row = deployment(platform, "pos", "pos", [{"nodeGroup": "shop-1"}, {"nodeGroup": "shop-3"}])
    until_running(row, north, south)
    writes(north), writes(south)
    resource_version = row.resource_version

    north.requests.clear(), south.requests.clear()

    outcome = run(row)

    assert outcome.result == "success" and row.phase == "Running"
    assert len(north.requests) == len(south.requests) == 0  # between drift checks, not even a read
    assert row.resource_version == resource_version  # nothing new to say: no status write either
    later = clock.now() + timedelta(seconds=301)
    monkeypatch.setattr(clock, "now", lambda: later)
    run(row)  # the drift check: one read of each kind per cluster, no write
    assert north.requests.count(method="GET") == south.requests.count(method="GET") == 3
    assert writes(north) == [] and writes(south) == []
    # a workload deleted behind the platform's back is drift: the next check puts back only that one
    from clusters.models import Cluster
    from edgeplatform import kube as gateway

    gateway.ensure_absent(gateway.member_client(Cluster.objects.get(name="north")), "apps/v1", "Deployment",
                          "pos-web-shop-1", "shop")
    writes(north)
    even_later = later + timedelta(seconds=301)
    monkeypatch.setattr(clock, "now", lambda: even_later)
    run(row)
    assert [w.path for w in writes(north)] == ["/apis/apps/v1/namespaces/shop/deployments/pos-web-shop-1"]
    assert writes(south) == []


def test_latest_and_range_resolution_and_upgrade_on_approval(shops, platform):
    north, south = shops
    application(platform)
    version(platform, "pos", "1.0.0")
    version(platform, "pos", "1.2.0")
    version(platform, "pos", "2.0.0")
    pending = version(platform, "pos", "1.3.0", approve=False)
    ranged = deployment(platform, "ranged", "pos", [{"nodeGroup": "shop-1"}], version_request="^1.0")
    latest = deployment(platform, "newest", "pos", [{"nodeGroup": "shop-3"}])

    until_running(ranged, north)
    until_running(latest, south)
    assert ranged.status["applicationVersion"] == "1.2.0"  # 1.3.0 is not approved, 2.0.0 out of range
    assert latest.status["applicationVersion"] == "2.0.0"

    review.decide(pending, "Approve", user=person("lead"))
    until_running(ranged, north)

    assert ranged.status["applicationVersion"] == "1.3.0"
    assert workloads(north)["ranged-web-shop-1"]["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "registry.example/pos:1.3.0"
    upgrade = ranged.status["history"][-1]
    assert (upgrade["reason"], upgrade["fromVersion"], upgrade["toVersion"], upgrade["operator"]) == \
        ("Upgrade", "1.2.0", "1.3.0", "lead")
    assert upgrade["application"] == "pos" and upgrade["topologies"] == [{"nodeGroup": "shop-1"}]
    assert upgrade["replicas"] == 1 and upgrade["readyReplicas"] == 1


def test_deprecated_and_missing_versions(shops, platform):
    north, _ = shops
    application(platform)
    first = version(platform, "pos", "1.0.0")
    row = deployment(platform, "pos", "pos", [{"nodeGroup": "shop-1"}], version_request="~1.0.0")
    until_running(row, north)
    review.set_deprecated(first, user=person("ops"))

    run(row)  # the version it runs stays admissible
    assert row.phase == "Running" and row.status["applicationVersion"] == "1.0.0"

    other = deployment(platform, "other", "pos", [{"nodeGroup": "shop-2"}], version_request="~1.0.0")
    run(other)
    assert other.phase == "Pending"
    assert "deprecated" in other.status["message"]
    assert "other-web-shop-2" not in workloads(north)
    version(platform, "pos", "1.0.1")
    until_running(other, north)
    assert other.status["applicationVersion"] == "1.0.1"


def test_rollback_and_automatic_rollback_of_a_failed_upgrade(shops, platform, monkeypatch):
    north, _ = shops
    application(platform)
    version(platform, "pos", "1.0.0")
    row = deployment(platform, "pos", "pos", [{"nodeGroup": "shop-1"}, {"nodeGroup": "shop-2"}],
                     rollout={"autoRollback": True})
    until_running(row, north)
    version(platform, "pos", "1.1.0")
    until_running(row, north)

    services.rollback(row, user=person("alice"))
    until_running(row, north)
    entry = row.status["history"][-1]
    assert (entry["reason"], entry["fromVersion"], entry["toVersion"], entry["operator"]) == \
        ("Rollback", "1.1.0", "1.0.0", "alice")
    assert workloads(north)["pos-web-shop-1"]["metadata"]["labels"]["app.theriseunion.io/version"] == "1.0.0"

    # an upgrade the cluster refuses (an admission policy) on one topology: back to 1.0.0 by itself
    services.rollback(row, user=person("bob"), version="1.1.0")
    row.refresh_from_db()
    north.fail_next(1, 422, method="PATCH", path_contains="deployments/pos-web-shop-2")
    run(row)
    assert row.status["message"].startswith("upgrade to 1.1.0 failed on 1 topology")
    assert row.spec["version"] == "1.0.0"
    until_running(row, north)
    entry = row.status["history"][-1]
    assert (entry["reason"], entry["fromVersion"], entry["toVersion"], entry["operator"]) == \
        ("Rollback", "1.1.0", "1.0.0", "system:app-deployments")
    assert entry["message"] == "automatic rollback: 1.1.0 failed"
    assert {w["metadata"]["labels"]["app.theriseunion.io/version"] for w in workloads(north).values()} == {"1.0.0"}


def test_pods_never_ready_fail_after_the_progress_timeout(shops, platform, monkeypatch):
    north, _ = shops
    application(platform)
    version(platform, "pos", "1.0.0")
    row = deployment(platform, "pos", "pos", [{"nodeGroup": "shop-1"}])
    north.pods_ready(False)
    run(row)
    settle(north)
    run(row)
    assert row.phase == "Progressing"
    later = clock.now() + timedelta(seconds=601)
    monkeypatch.setattr(clock, "now", lambda: later)
    run(row)
    assert row.phase == "Failed"
    assert "0/1 replicas ready" in row.status["topologyStatuses"][0]["message"]


def test_removed_topology_is_pruned_and_deletion_removes_everything(shops, platform):
    north, south = shops
    application(platform)
    version(platform, "pos", "1.0.0")
    row = deployment(platform, "pos", "pos", [{"nodeGroup": "shop-1"}, {"nodeGroup": "shop-2"},
                                              {"nodeGroup": "shop-3"}])
    until_running(row, north, south)
    writes(north), writes(south)

    platform.apply({"apiVersion": "app.theriseunion.io/v1alpha1", "kind": "ApplicationDeployment",
                    "metadata": {"name": "pos", "namespace": "shop"},
                    "spec": {"application": "pos", "version": "latest", "topologies": [{"nodeGroup": "shop-2"}]}})
    row.refresh_from_db()
    until_running(row, north, south)

    assert sorted(workloads(north)) == ["pos-web-shop-2"]
    assert workloads(south) == {}
    assert [w.method for w in writes(north)] == ["PATCH", "DELETE"]  # topology-index 1 → 0, shop-1 removed
    assert [w.method for w in writes(south)] == ["DELETE"]
    assert list(DeploymentTopology.objects.filter(deployment=row).values_list("cluster", flat=True)) == ["north"]
    assert row.status["readyStatus"] == "1/1" and len(row.status["topologyStatuses"]) == 1

    from edgeplatform.resources.converters import converter_for
    from edgeplatform.resources.services import delete_object

    delete_object(converter_for(row), row)
    row.refresh_from_db()
    outcome = run(row)
    assert outcome.result == "success"
    assert not ApplicationDeployment.objects.filter(pk=row.pk).exists()
    assert workloads(north) == {} and workloads(south) == {}
    assert not DeploymentTopology.objects.filter(deployment_id=row.pk).exists()


def test_controller_names():
    assert (CONTROLLER.name, CONTROLLER.queue, CONTROLLER.sort) == ("app-deployments", "deploy", "application")
    from appstore.tasks import reconcile_deployment
    from edgeplatform.controllers.queues import route

    assert reconcile_deployment.name == "appstore.reconcile_deployment"
    assert route(reconcile_deployment.name, (), {}, {}) == {"queue": "deploy"}


def test_version_config_is_checked_by_the_workload_provisioner(platform):
    from edgeplatform.resources.errors import StatusError

    application(platform)
    config = {"deployments": [{"name": "web", "spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}}]}
    with pytest.raises(StatusError) as refused:
        version(platform, "pos", "1.0.0", approve=False, config=config)
    assert refused.value.status_code == 422
    assert [c["field"] for c in refused.value.details["causes"]] == [
        "spec.workloadConfig.deployments[0].spec.template.spec.containers[0].image"]


def test_names_merges_and_cloud_placement():
    from types import SimpleNamespace

    from appstore.provisioners.base import Target
    from appstore.provisioners.workload import CLOUD_AFFINITY, deep_merge, object_name, render

    merged = deep_merge({"containers": [{"name": "a", "image": "x", "args": ["1"]}, {"name": "b", "image": "y"}],
                         "replicas": 1},
                        {"containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}], "paused": True})
    assert merged == {"containers": [{"name": "a", "image": "x", "args": ["1"]}, {"name": "b", "image": "z"},
                                     {"name": "c", "image": "w"}], "replicas": 1, "paused": True}
    version_row = SimpleNamespace(name="pos-1-0-0", spec={"version": "1.0.0", "workloadConfig": workload_config()})
    long = Target(deployment=SimpleNamespace(name="d" * 40), application=SimpleNamespace(name="pos"),
                  version=version_row, index=0, topology={}, cluster="north", namespace="shop", node_group="g" * 30,
                  node_selector={"theriseunion.io/nodegroup": "g" * 30})
    name = object_name(long, "web")
    assert len(name) == 63 and name != object_name(long, "api") and name == object_name(long, "web")
    cloud = Target(deployment=SimpleNamespace(name="pos"), application=SimpleNamespace(name="pos"),
                   version=version_row, index=1, topology={"nodeGroup": "__cloud__"}, cluster="north",
                   namespace="shop", cloud=True)
    (made,) = render(cloud)
    assert made["metadata"]["name"] == "pos-web-cloud"
    assert "nodeSelector" not in made["spec"]["template"]["spec"]
    assert made["spec"]["template"]["spec"]["affinity"] == CLOUD_AFFINITY
    assert "theriseunion.io/nodegroup" not in made["metadata"]["labels"]


def test_metrics_count_deployments_by_status(shops, platform):
    from prometheus_client import REGISTRY

    north, _ = shops
    application(platform)
    version(platform, "pos", "1.0.0")
    row = deployment(platform, "pos", "pos", [{"nodeGroup": "shop-1"}])
    until_running(row, north)
    pending = deployment(platform, "later", "pos", [{"nodeGroup": "shop-2"}], version_request="^2")
    run(pending)

    assert REGISTRY.get_sample_value("app_deployment_total") == 2
    assert REGISTRY.get_sample_value("app_deployment_status", {"status": "success"}) == 1
    assert REGISTRY.get_sample_value("app_deployment_status", {"status": "progressing"}) == 1
    assert REGISTRY.get_sample_value("app_deployment_status", {"status": "failed"}) == 0
    assert REGISTRY.get_sample_value("app_store_application_count") == 1
    assert REGISTRY.get_sample_value("app_store_deployment_count") == 2
    assert REGISTRY.get_sample_value("app_deployment_rollout_duration_seconds_count",
                                     {"reason": "Initial", "result": "success"}) >= 1


def test_history_keeps_the_last_ten_changes(shops, platform):
    application(platform)
    numbers = [f"1.{minor}.0" for minor in range(12)]
    for number in numbers:
        version(platform, "pos", number)
    for number in numbers:
        row = deployment(platform, "pos", "pos", [{"nodeGroup": "shop-1"}], version_request=number)
        run(row)

    history = row.status["history"]
    assert len(history) == 10
    assert [entry["toVersion"] for entry in history] == numbers[2:]
    assert {entry["reason"] for entry in history} == {"Upgrade"}
    assert history[0]["fromVersion"] == "1.1.0"
