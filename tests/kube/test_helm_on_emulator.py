"""A Helm release of a Deployment and a Service (tests/fixtures/charts/web) installs on the emulator, and a wait on
its readiness ends when the kubelet makes its pods ready; an upgrade rolls out, an uninstall removes the pods."""
from __future__ import annotations

import pytest
from django.test import override_settings
from kubernetes import client, watch

from edgeplatform.helm import HelmDriver
from tests.paths import FIXTURES

CHART = FIXTURES / "charts" / "web"


@pytest.fixture
def driver(kube, tmp_path):
    with override_settings(EDGE_HELM_HOME=str(tmp_path / "helm")):
        yield HelmDriver(kube.kubeconfig_path, namespace="default")


def wait_rolled_out(apps, name: str, timeout: int = 10) -> client.V1Deployment:
    """What ``kubectl rollout status`` waits for: the generation observed, every replica updated and available."""
    for event in watch.Watch().stream(apps.list_namespaced_deployment, "default",
                                      field_selector=f"metadata.name={name}", timeout_seconds=timeout):
        deployment = event["object"]
        status = deployment.status
        if status and (status.observed_generation or 0) >= deployment.metadata.generation \
                and status.updated_replicas == deployment.spec.replicas \
                and status.available_replicas == deployment.spec.replicas == status.replicas:
            return deployment
    raise AssertionError(f"deployment {name} did not roll out in {timeout}s")


def test_a_chart_with_a_deployment_and_a_service_installs_and_becomes_ready(kube, driver, api):
    kube.kubelet_on(nodes=2, delay=0.3)
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    release = driver.install_or_upgrade("shop", CHART)
    assert (release["revision"], release["status"]) == (1, "deployed")
    service = core.read_namespaced_service("shop", "default")
    assert service.spec.cluster_ip.startswith("10.96.") and service.spec.ports[0].target_port == "http"
    ready = wait_rolled_out(apps, "shop")
    assert ready.status.ready_replicas == 2
    pods = core.list_namespaced_pod("default", label_selector="app.kubernetes.io/instance=shop").items
    assert len(pods) == 2 and all(p.status.phase == "Running" for p in pods)

    upgraded = driver.install_or_upgrade("shop", CHART, {"image": "nginx:1.28", "replicas": 3})
    assert upgraded["revision"] == 2
    rolled = wait_rolled_out(apps, "shop")
    assert rolled.metadata.generation == 2 and rolled.status.available_replicas == 3
    assert kube.settle()
    images = {p.spec.containers[0].image for p in core.list_namespaced_pod(
        "default", label_selector="app.kubernetes.io/instance=shop").items}
    assert images == {"nginx:1.28"}

    driver.uninstall("shop")
    assert kube.object("deployments", "shop", "default") is None and kube.object("services", "shop", "default") is None
    assert kube.settle() and kube.objects("pods", namespace="default") == []
