"""What the provisioner tests share: app store rows made through the platform's write path, a member cluster on
an emulated API server, and ``Target``s built from those rows as the deployment controller builds them."""
from __future__ import annotations

from appstore.models import ApplicationDeployment, ApplicationVersion
from appstore.provisioners.base import Target
from appstore.topologies import places
from clusters.models import Cluster
from tests.components.conftest import register_cluster

API_VERSION = "app.theriseunion.io/v1alpha1"
BASE = f"/oapis/{API_VERSION}"
NODEGROUP_LABEL = "theriseunion.io/nodegroup"


def application(platform, name: str, provisioner: str):
    """An Application of the platform provisioned by ``provisioner``."""
    return platform.apply({"apiVersion": API_VERSION, "kind": "Application", "metadata": {
        "name": name, "labels": {"app.theriseunion.io/provisioner": provisioner}}, "spec": {}})[0]


def version(platform, app, number: str, **config) -> ApplicationVersion:
    """Version ``number`` of ``app`` holding ``config`` (e.g. ``helmConfig={...}``)."""
    return platform.apply({"apiVersion": API_VERSION, "kind": "ApplicationVersion",
                           "metadata": {"name": f"{app.name}-{number.replace('.', '-')}"},
                           "spec": {"applicationRef": app.name, "version": number, **config}})[0]


def deployment(platform, name: str, namespace: str, app, topologies: list[dict], cluster: str = "edge"):
    """An ApplicationDeployment of ``app`` in ``namespace`` of ``cluster``."""
    return platform.apply({"apiVersion": API_VERSION, "kind": "ApplicationDeployment", "metadata": {
        "name": name, "namespace": namespace, "labels": {"scope.theriseunion.io/cluster": cluster}},
        "spec": {"application": app.name, "version": "latest", "topologies": topologies}})[0]


def targets(row: ApplicationDeployment, resolved: ApplicationVersion) -> list[Target]:
    """A ``Target`` per topology of ``row`` at ``resolved``, placed as the controller places them (the
    node-group label for a node group, the hostname for a node, nothing on the cloud side)."""
    topologies = (row.spec or {}).get("topologies") or []
    problems: list = []
    found = places(topologies, row.cluster, None, problems)
    assert not problems, problems
    out = []
    for place in found:
        topology = topologies[place.index] if topologies else {}
        selector = {NODEGROUP_LABEL: place.node_group} if place.node_group else \
            {"kubernetes.io/hostname": place.node_name} if place.node_name else {}
        out.append(Target(deployment=row, application=row.application, version=resolved, index=place.index,
                          topology=topology, cluster=place.cluster, namespace=row.namespace,
                          node_group=place.node_group, node_name=place.node_name, cloud=place.cloud,
                          replicas=topology.get("replicas"), node_selector=selector))
    return out


def member(kube_clusters, platform, name: str = "edge", groups: tuple = (), nodes_per_group: int = 1):
    """Cluster ``name`` on an emulated API server (no token: Helm sends none over plain http) with its kubelet
    on: ``nodes_per_group`` nodes labelled for each node group of ``groups`` (rows made too), and one cloud node."""
    (emulator,) = kube_clusters(1)
    register_cluster(platform, name, emulator)
    emulator.kubelet_on(nodes=[])
    emulator.add_node(f"{name}-cloud-1")
    for group in groups:
        platform.nodegroup(group, name)
        for index in range(nodes_per_group):
            emulator.add_node(f"{group}-{index + 1}", labels={NODEGROUP_LABEL: group})
    return emulator, Cluster.objects.get(name=name)
