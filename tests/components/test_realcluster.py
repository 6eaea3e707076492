"""The install, upgrade and uninstall path on a real cluster (``EDGE_TEST_KUBECONFIG``; skipped without it): the
same controller, the real Helm SDK, the project's own chart (ConfigMaps only: nothing to pull)."""
from __future__ import annotations

import uuid

import pytest

from edgeplatform import kube as gateway
from tests.components.conftest import publish, run
from tests.factories.components import component

pytestmark = pytest.mark.realcluster


def test_install_upgrade_disable_on_a_real_cluster(kube, platform, helm_home):
    cluster = platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                              "metadata": {"name": "real"}, "spec": {"type": "physical", "connection": {
                                  "type": "direct", "kubeconfig": kube.kubeconfig_path.read_text()}}})[0]
    publish("library")
    namespace = f"edge-test-{uuid.uuid4().hex[:6]}"
    client = gateway.member_client(cluster)
    spec = {"chart": {"name": "component", "namespace": namespace}, "version": "1.0.0", "values": {"message": "a"}}
    comp = component(cluster, "probe", spec)
    try:
        assert run(comp).result == "success" and comp.status["phase"] == "Ready"
        assert gateway.get(client, "v1", "ConfigMap", "probe-settings", namespace)["data"]["message"] == "a"
        assert run(comp).helm_calls == 0
        comp.spec = {**spec, "values": {"message": "b"}}
        comp.generation += 1
        comp.save()
        assert run(comp).result == "success" and comp.status["releaseVersion"] == 2
        assert gateway.get(client, "v1", "ConfigMap", "probe-settings", namespace)["data"]["message"] == "b"
        comp.spec = {**spec, "enabled": False}
        comp.generation += 1
        comp.save()
        assert run(comp).result == "success" and comp.status["phase"] == "Disabled"
        assert gateway.get(client, "v1", "ConfigMap", "probe-settings", namespace) is None
    finally:
        gateway.ensure_absent(client, "v1", "Namespace", namespace)
