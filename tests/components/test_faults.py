"""The component controller under faults: an API server answering 5xx, 409 or nothing mid-install, a cluster
that cannot be reached beside one that can, a chart repository that is down with the chart cached, workloads that
are not Ready yet, a worker that died in the middle of an install."""
from __future__ import annotations

from datetime import timedelta

import pytest

from edgeplatform.controllers import clock
from tests.components.conftest import publish, register_cluster, release_secrets, run
from tests.factories.components import component
from tests.helm_repo import ChartRepoServer
from tests.paths import FIXTURES

SPEC = {"chart": {"name": "component"}, "version": "1.0.0", "values": {"message": "hi"}}


@pytest.fixture
def later(monkeypatch):
    """Move the controllers' clock forward: ``later(seconds)``."""
    real = clock.now
    offset = [timedelta()]
    monkeypatch.setattr(clock, "now", lambda: real() + offset[0])

    def advance(seconds: float) -> None:
        offset[0] += timedelta(seconds=seconds)

    return advance


@pytest.mark.parametrize("status", [503, 409])
def test_an_api_server_failing_mid_install_converges_with_exactly_one_release(site, status):
    # GIVEN the API server refuses the next writes of the release's objects
    comp = component(site.cluster, "agent", SPEC)
    site.kube.fail_next(3, status=status, method="PATCH", path_contains="configmaps")
    site.kube.fail_next(3, status=status, method="POST", path_contains="configmaps")
    # WHEN reconciled until it settles (each attempt a retry, as the task would queue it)
    outcomes = [run(comp) for _ in range(4)]
    # THEN it converged by itself, one release, Ready
    assert outcomes[-1].result == "success", [o.result for o in outcomes]
    assert comp.status["phase"] == "Ready"
    assert len({name.rsplit(".v", 1)[0] for name in release_secrets(site.kube)}) == 1
    assert site.kube.object("configmaps", "agent-settings", "edge-system")["data"]["message"] == "hi"


def test_an_api_server_that_does_not_answer_is_retried_with_backoff(site):
    comp = component(site.cluster, "agent", SPEC)
    site.kube.delay_next(1, 3.0, path_contains="/secrets")  # the release history read times out (2 s)
    outcome = run(comp)
    assert outcome.result == "retry" and outcome.helm_calls == 0 and outcome.retry_in > 0
    assert comp.status["reason"] == "Unavailable" and comp.status["retryCount"] == 1
    assert run(comp).result == "success" and release_secrets(site.kube) == ["sh.helm.release.v1.agent.v1"]


def test_an_unreachable_cluster_is_retried_while_another_clusters_component_installs(site, platform, kube_clusters):
    (gone,) = kube_clusters(1)
    offline = register_cluster(platform, "offline", gone)
    gone.stop()
    stuck = component(offline, "agent", SPEC)
    fine = component(site.cluster, "agent-2", SPEC)
    first = run(stuck)
    assert first.result == "retry" and stuck.status["reason"] == "Unavailable" and first.helm_calls == 0
    assert run(fine).result == "success" and fine.status["phase"] == "Ready"
    second = run(stuck)
    assert second.result == "retry" and stuck.status["retryCount"] == 2


def test_a_repository_that_is_down_still_installs_a_cached_chart(site, tmp_path):
    server = ChartRepoServer(tmp_path / "repo").add(FIXTURES / "charts" / "component").start()
    comp = component(site.cluster, "remote", {**SPEC, "chart": {"name": "component", "repository": server.url}})
    assert run(comp).result == "success"
    server.stop()
    # WHEN the spec changes while the repository is down THEN the cached archive serves the upgrade
    comp.spec = {**comp.spec, "values": {"message": "offline"}}
    comp.generation += 1
    comp.save()
    outcome = run(comp)
    assert outcome.result == "success" and comp.status["releaseVersion"] == 2
    assert site.kube.object("configmaps", "remote-settings", "edge-system")["data"]["message"] == "offline"


def test_the_clusters_own_repository_comes_before_library(site):
    publish("edge", version="2.0.0")
    comp = component(site.cluster, "agent", {"chart": {"name": "component"}})  # no version: the latest
    assert run(comp).result == "success"
    assert site.kube.object("configmaps", "agent-settings", "edge-system")["data"]["chart"] == "2.0.0"


def test_a_first_install_whose_workloads_never_become_ready_leaves_nothing_and_is_retried(site, settings):
    # GIVEN pods that run but never turn Ready, and a short Helm timeout (atomic installs wait for readiness)
    settings.EDGE_HELM_TIMEOUT = 3
    site.kube.kubelet_on(nodes=1)
    site.kube.pods_ready(False)
    comp = component(site.cluster, "web", {**SPEC, "values": {"workload": True}})
    # WHEN it is reconciled THEN the install fails after the timeout, is removed, and is retried with backoff
    failed = run(comp)
    assert failed.result == "retry" and failed.helm_calls == 1
    assert comp.status["phase"] == "Failed" and comp.status["reason"] == "InstallFailed"
    assert "web not ready" in comp.status["message"] and "nothing was left behind" in comp.status["message"]
    assert release_secrets(site.kube) == [] and site.kube.object("deployments", "web", "edge-system") is None
    # WHEN the pods can become Ready THEN the next attempt installs it and it is Ready
    site.kube.pods_ready(True)
    ready = run(comp)
    assert ready.result == "success" and comp.status["phase"] == "Ready", comp.status
    assert site.kube.object("deployments", "web", "edge-system")["status"]["readyReplicas"] == 1


def test_an_install_abandoned_by_a_dead_worker_is_repaired_without_a_duplicate(site, later):
    # GIVEN a release left pending-install (the process that ran it died before it finished)
    from edgeplatform import kube as gateway
    from edgeplatform.helm import HelmDriver

    comp = component(site.cluster, "agent", SPEC)
    gateway.apply(gateway.member_client(site.cluster),
                  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "edge-system"}})
    with HelmDriver.for_cluster(site.cluster) as driver:
        driver.install_or_upgrade("agent", site.chart_path, {}, namespace="edge-system")
    secret = site.kube.object("secrets", "sh.helm.release.v1.agent.v1", "edge-system")
    secret["metadata"]["labels"]["status"] = "pending-install"
    _relabel(site, secret)
    # WHEN reconciled at once THEN it waits (the operation may still be running)
    busy = run(comp)
    assert busy.result == "retry" and comp.status["reason"] == "HelmBusy" and busy.helm_calls == 0
    # WHEN reconciled after the Helm timeout THEN the abandoned install is removed and installed again
    later(120)
    outcome = run(comp)
    assert outcome.result == "success", comp.status
    assert release_secrets(site.kube) == ["sh.helm.release.v1.agent.v1"] and comp.status["releaseVersion"] == 1


def _relabel(site, secret):
    """Write the Secret back through the API server (as a dying Helm leaves it)."""
    from edgeplatform import kube as gateway

    client = gateway.member_client(site.cluster)
    client.request("PATCH", "/api/v1/namespaces/edge-system/secrets/sh.helm.release.v1.agent.v1",
                   body={"metadata": {"labels": secret["metadata"]["labels"]}},
                   content_type="application/merge-patch+json")


def test_workloads_that_stop_being_ready_are_waited_for_then_failed_without_a_helm_call(site, later, settings):
    # GIVEN a component with a Deployment, installed and Ready
    settings.EDGE_COMPONENT_READY_TIMEOUT = 60
    site.kube.kubelet_on(nodes=1)
    comp = component(site.cluster, "web", {**SPEC, "values": {"workload": True}})
    assert run(comp).result == "success" and comp.status["phase"] == "Ready"
    # WHEN its pods stop being Ready and it is reconciled THEN it waits (no Helm call), then fails after the timeout
    site.kube.pods_ready(False)
    assert site.kube.settle()
    waiting = run(comp)
    assert waiting.result == "retry" and waiting.helm_calls == 0
    assert comp.status["reason"] == "WaitingForWorkloads" and "Deployment web (0/1 ready)" in comp.status["message"]
    later(120)
    failed = run(comp)
    assert failed.result == "retry" and comp.status["phase"] == "Failed"
    assert comp.status["reason"] == "WorkloadsNotReady" and "not ready after 60 s" in comp.status["message"]
    # WHEN the pods are Ready again THEN so is the component, still without a Helm call
    site.kube.pods_ready(True)
    assert site.kube.settle()
    ready = run(comp)
    assert ready.result == "success" and ready.helm_calls == 0 and comp.status["phase"] == "Ready"
