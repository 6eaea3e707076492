"""The workload provisioner against a real cluster (``EDGE_TEST_KUBECONFIG``; skipped without one): a topology
applied into a fresh namespace, read back until its pods are Ready, changed, then removed."""
from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import pytest

from appstore.provisioners.base import Target
from appstore.provisioners.workload import WorkloadProvisioner
from edgeplatform import kube as gateway

pytestmark = [pytest.mark.realcluster, pytest.mark.django_db]

IMAGE = "registry.k8s.io/pause:3.9"


def _client(platform, kube):
    cluster = platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                              "metadata": {"name": "real"}, "spec": {"type": "physical", "connection": {
                                  "type": "direct", "kubeconfig": kube.kubeconfig_path.read_text()}}})[0]
    return gateway.member_client(cluster)


def _target(namespace: str, version: str, replicas: int) -> Target:
    deployment = SimpleNamespace(name="edge-rollout-test", namespace=namespace)
    application = SimpleNamespace(name="edge-rollout-test")
    row = SimpleNamespace(name=f"edge-rollout-test-{version}", version=version, spec={
        "version": version, "workloadConfig": {"deployments": [{"name": "web", "spec": {"template": {"spec": {
            "containers": [{"name": "web", "image": IMAGE}]}}}}]}})
    return Target(deployment=deployment, application=application, version=row, index=0, topology={},
                  cluster="real", namespace=namespace, replicas=replicas)


def _wait(provisioner, target, client, phase: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while True:
        state = provisioner.status([target], client)[target.key]
        if state.phase == phase or time.monotonic() > deadline:
            return state
        time.sleep(2)


def test_workload_on_a_real_cluster(kube, platform):
    client = _client(platform, kube)
    namespace = f"edge-rollout-{uuid.uuid4().hex[:8]}"
    provisioner = WorkloadProvisioner()
    try:
        first = _target(namespace, "1.0.0", 1)
        done = provisioner.provision(first, client)
        assert done.workloads == ["edge-rollout-test-web-real"]
        state = _wait(provisioner, first, client, "Running")
        assert (state.phase, state.ready_replicas, state.version) == ("Running", 1, "1.0.0")

        second = _target(namespace, "1.1.0", 2)
        provisioner.update(second, client)
        state = _wait(provisioner, second, client, "Running")
        assert (state.replicas, state.ready_replicas, state.version) == (2, 2, "1.1.0")

        assert provisioner.unprovision(second.deployment, client) == 1
        assert gateway.get(client, "apps/v1", "Deployment", "edge-rollout-test-web-real", namespace) is None
    finally:
        gateway.ensure_absent(client, "v1", "Namespace", namespace)
