"""A member cluster ``edge`` on an emulator, connected to the platform, for the workspace, node-group and
node-lifecycle tests."""
from __future__ import annotations

import yaml
from kubernetes import client as k8s
from kubernetes import config

from clusters.models import Cluster
from edgeplatform.controllers.engine import reconcile

FAST = {"EDGE_KUBE_RETRIES": 0, "EDGE_KUBE_READ_TIMEOUT": 2, "EDGE_KUBE_CONNECT_TIMEOUT": 0.5,
        "EDGE_CONTROLLER_BACKOFF": 1, "EDGE_CONTROLLER_BACKOFF_MAX": 2}
GROUP = "scope.theriseunion.io/v1alpha1"
CLUSTER_LABEL = "scope.theriseunion.io/cluster"


def connect(platform, emulator, name: str = "edge") -> Cluster:
    """Cluster ``name`` whose stored connection is the emulator's kubeconfig."""
    platform.apply({"apiVersion": GROUP, "kind": "Cluster", "metadata": {"name": name},
                    "spec": {"type": "physical", "connection": {
                        "type": "direct", "kubeconfig": yaml.safe_dump(emulator.kubeconfig())}}})
    return Cluster.objects.get(name=name)


def core(emulator) -> k8s.CoreV1Api:
    """The official client's CoreV1Api on the emulator."""
    return k8s.CoreV1Api(config.new_client_from_config(str(emulator.kubeconfig_path)))


def sync_members(name: str = "edge"):
    """One member sync of the cluster (nodes and namespaces brought in)."""
    from clusters.member_sync import MEMBER_SYNC

    return reconcile(MEMBER_SYNC, Cluster.objects.get(name=name).pk)
