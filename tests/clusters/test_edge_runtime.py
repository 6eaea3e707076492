"""Edge runtimes: ``spec.edgeRuntime`` of a cluster installed as Components on its member (emulated API server,
real Helm, the project's stand-in charts for cloudcore, yurt-manager and yurthub in the platform's ``library``
repository), swapped, removed, and resumed after faults."""
from __future__ import annotations

import base64

import pytest
import yaml
from django.test import override_settings

from clusters.controller import CONTROLLER
from clusters.models import Cluster
from components.controller import CONTROLLER as COMPONENTS
from components.models import Component
from edgeplatform.controllers.engine import reconcile
from tests.components.conftest import helm_home, publish, release_secrets  # noqa: F401  (fixture)

API = "scope.theriseunion.io/v1alpha1"


def cluster_manifest(name: str, emulator, runtime: dict | None) -> dict:
    spec = {"type": "physical", "connection": {"type": "direct", "kubeconfig": yaml.safe_dump(emulator.kubeconfig())}}
    if runtime is not None:
        spec["edgeRuntime"] = runtime
    return {"apiVersion": API, "kind": "Cluster", "metadata": {"name": name}, "spec": spec}


@pytest.fixture
def edge(kube_clusters, platform, helm_home):  # noqa: F811
    """Member ``edge`` on an emulated API server whose pods get Ready; the stand-in runtime charts in library."""
    (emulator,) = kube_clusters(1)
    emulator.kubelet_on()
    for chart in ("cloudcore", "yurt-manager", "yurthub"):
        publish("library", chart)

    class Site:
        kube = emulator

        def apply(self, runtime):
            return platform.apply(cluster_manifest("edge", emulator, runtime))[0]

    return Site()


def settle(cluster: Cluster, rounds: int = 8) -> Cluster:
    """Reconcile the cluster and its components in turn (what the workers do) until the cluster is done."""
    for _ in range(rounds):
        outcome = reconcile(CONTROLLER, cluster.pk)
        if outcome.result == "success":
            break
        for component in Component.objects.filter(cluster__name=cluster.name).order_by("name"):
            reconcile(COMPONENTS, component.pk)
    cluster.refresh_from_db()
    return cluster


def runtime_condition(cluster: Cluster) -> dict:
    return next(c for c in cluster.status["conditions"] if c["type"] == "EdgeRuntimeReady")


def test_kubeedge_installs_cloudcore_with_its_controller_manager_then_swaps_to_openyurt_then_none(db, edge):
    # GIVEN cluster edge asking for KubeEdge without a version
    cluster = edge.apply({"type": "kubeedge"})
    # WHEN the controller runs
    cluster = settle(cluster)
    # THEN cloudcore 1.20.0 is installed in namespace kubeedge with the controller-manager and the cloud address
    assert cluster.ready, cluster.status
    assert cluster.status["edgeRuntime"] == {"type": "kubeedge", "version": "1.20.0", "phase": "Ready",
                                             "components": {"cloudcore": "Ready"}}
    assert runtime_condition(cluster)["status"] == "True"
    component = Component.objects.get(cluster=cluster, name="cloudcore")
    assert component.labels["theriseunion.io/edge-runtime"] == "kubeedge"
    assert component.spec["values"]["controllerManager"]["enable"] is True
    assert component.spec["values"]["cloudCore"]["modules"]["cloudHub"]["advertiseAddress"] == ["127.0.0.1"]
    assert release_secrets(edge.kube, "kubeedge") == ["sh.helm.release.v1.cloudcore.v1"]
    assert edge.kube.object("deployments", "kubeedge-controller-manager", "kubeedge")
    assert base64.b64decode(edge.kube.object("secrets", "tokensecret", "kubeedge")["data"]["tokendata"])
    # AND a second reconcile changes nothing (no Helm call, no new revision)
    assert reconcile(CONTROLLER, cluster.pk).result == "success"
    assert release_secrets(edge.kube, "kubeedge") == ["sh.helm.release.v1.cloudcore.v1"]

    # WHEN the type becomes openyurt
    cluster = settle(edge.apply({"type": "openyurt"}))
    # THEN cloudcore is uninstalled and gone, and yurt-manager and yurt-hub 1.6.0 run in kube-system
    assert cluster.status["edgeRuntime"] == {"type": "openyurt", "version": "1.6.0", "phase": "Ready",
                                             "components": {"yurt-hub": "Ready", "yurt-manager": "Ready"}}
    assert set(Component.objects.filter(cluster=cluster).values_list("name", flat=True)) == {"yurt-manager",
                                                                                             "yurt-hub"}
    assert release_secrets(edge.kube, "kubeedge") == []
    assert edge.kube.object("deployments", "cloudcore", "kubeedge") is None
    assert release_secrets(edge.kube, "kube-system") == ["sh.helm.release.v1.yurt-hub.v1",
                                                          "sh.helm.release.v1.yurt-manager.v1"]
    hub = edge.kube.object("configmaps", "yurt-hub-cfg", "kube-system")
    assert hub["data"]["server-addr"] == edge.kube.kubeconfig()["clusters"][0]["cluster"]["server"].rstrip("/")

    # WHEN the type becomes none
    cluster = settle(edge.apply({"type": "none"}))
    # THEN nothing of a runtime is left, and the status says there is none
    assert not Component.objects.filter(cluster=cluster).exists()
    assert release_secrets(edge.kube, "kube-system") == []
    assert "edgeRuntime" not in cluster.status
    assert runtime_condition(cluster)["reason"] == "NoEdgeRuntime" and cluster.ready


def test_while_installing_the_cluster_is_not_ready_and_says_what_it_waits_for(db, edge):
    # GIVEN pods that never get Ready
    edge.kube.pods_ready(False)
    cluster = edge.apply({"type": "openyurt", "version": "v1.6.0"})
    # WHEN the cluster reconciles once
    outcome = reconcile(CONTROLLER, cluster.pk)
    cluster.refresh_from_db()
    # THEN it waits, at its step, naming the runtime and its components
    assert outcome.result == "retry"
    assert cluster.status["step"] == "ensure_edge_runtime" and cluster.status["reason"] == "EdgeRuntimeInstalling"
    assert "installing openyurt 1.6.0" in cluster.status["message"] and "yurt-manager Pending" in \
        cluster.status["message"]
    assert cluster.status["edgeRuntime"]["phase"] == "Installing" and not cluster.ready


def test_a_missing_chart_version_is_reported_with_the_components_reason(db, edge):
    # GIVEN KubeEdge 1.15, whose chart the repository does not have
    cluster = settle(edge.apply({"type": "kubeedge", "version": "1.15.0"}), rounds=3)
    # THEN the cluster says the runtime failed, and why
    assert cluster.status["reason"] == "EdgeRuntimeFailed", cluster.status
    assert "cloudcore" in cluster.status["message"] and "1.15.0" in cluster.status["message"]
    assert cluster.status["edgeRuntime"]["phase"] == "Failed"


def test_a_component_of_the_same_name_that_is_not_the_runtime_is_left_alone(db, edge, platform):
    # GIVEN an operator's own (disabled) component named cloudcore; WHEN KubeEdge is asked for
    cluster = edge.apply(None)
    platform.apply({"apiVersion": "ext.theriseunion.io/v1alpha1", "kind": "Component",
                    "metadata": {"name": "cloudcore", "namespace": "edge"},
                    "spec": {"version": "1.20.0", "chart": {"name": "cloudcore"}, "enabled": False}})
    cluster = edge.apply({"type": "kubeedge"})
    reconcile(CONTROLLER, cluster.pk)
    cluster.refresh_from_db()
    # THEN the cluster says so, and the operator's component is untouched
    assert cluster.status["reason"] == "ComponentNameTaken" and "cloudcore" in cluster.status["message"]
    kept = Component.objects.get(name="cloudcore")
    assert "theriseunion.io/edge-runtime" not in kept.labels and kept.spec["enabled"] is False


@override_settings(EDGE_KUBE_RETRIES=0)
def test_a_member_failing_mid_step_resumes_at_the_step_without_installing_twice(db, edge):
    # GIVEN KubeEdge asked for, and the member answering 503 to everything for a while (after the health check)
    cluster = edge.apply({"type": "kubeedge"})
    assert reconcile(CONTROLLER, cluster.pk).result == "retry"  # the Component is written; it is installing
    component = Component.objects.get(cluster=cluster, name="cloudcore")
    edge.kube.fail_next(2, status=503)
    assert reconcile(COMPONENTS, component.pk).result == "retry"
    # WHEN the member answers again
    cluster = settle(cluster)
    # THEN the runtime is Ready with one release, one Component
    assert cluster.status["edgeRuntime"]["phase"] == "Ready", cluster.status
    assert release_secrets(edge.kube, "kubeedge") == ["sh.helm.release.v1.cloudcore.v1"]
    assert Component.objects.filter(cluster=cluster).count() == 1


def test_a_worker_killed_mid_step_resumes_at_the_step_and_writes_nothing_twice(db, edge, monkeypatch):
    # GIVEN openyurt asked for, and a worker that dies right after writing the Components (no status written)
    from clusters import edge_runtime

    cluster = edge.apply({"type": "openyurt"})
    real = edge_runtime._write

    class Killed(BaseException):
        """What a SIGKILL looks like from inside: nothing after it runs but ``finally`` blocks."""

    def dies(*args, **kwargs):
        real(*args, **kwargs)
        raise Killed()

    monkeypatch.setattr(edge_runtime, "_write", dies)
    with pytest.raises(Killed):
        reconcile(CONTROLLER, cluster.pk)
    monkeypatch.setattr(edge_runtime, "_write", real)
    written = {c.name: (c.resource_version, c.generation) for c in Component.objects.filter(cluster=cluster)}
    assert set(written) == {"yurt-manager", "yurt-hub"}
    # WHEN another worker reconciles: it waits for the components, at the step
    assert reconcile(CONTROLLER, cluster.pk).result == "retry"
    # THEN the Components were not written again
    assert {c.name: (c.resource_version, c.generation) for c in Component.objects.filter(cluster=cluster)} == written
    # AND the next attempt starts at ensure_edge_runtime (no second health check of the member)
    edge.kube.requests.clear()
    assert reconcile(CONTROLLER, cluster.pk).result == "retry"
    assert edge.kube.requests.count(path="/version") == 0
    # AND once settled there is one release of each
    cluster = settle(cluster)
    assert cluster.status["edgeRuntime"]["phase"] == "Ready", cluster.status
    assert release_secrets(edge.kube, "kube-system") == ["sh.helm.release.v1.yurt-hub.v1",
                                                          "sh.helm.release.v1.yurt-manager.v1"]
