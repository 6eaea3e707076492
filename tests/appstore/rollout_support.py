"""Helpers of the rollout tests: member clusters on emulated API servers with node groups and kubelets, an
application with approved versions, deployments written through the write path, and one reconcile at a time."""
from __future__ import annotations

import yaml

from appstore import review
from appstore.controller import CONTROLLER
from appstore.models import ApplicationDeployment, ApplicationVersion
from edgeplatform.controllers.engine import reconcile
from tests.factories import UserFactory

GROUP = "app.theriseunion.io/v1alpha1"
#: quick Kubernetes timeouts and no retry inside the client (the controller retries)
FAST = {"EDGE_KUBE_RETRIES": 0, "EDGE_KUBE_READ_TIMEOUT": 2, "EDGE_KUBE_CONNECT_TIMEOUT": 0.5,
        "EDGE_APPSTORE_CLUSTER_TIMEOUT": 0.5}


def register_cluster(platform, name: str, emulator):
    """A Cluster row reaching ``emulator`` through a stored kubeconfig."""
    return platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                           "metadata": {"name": name}, "spec": {"type": "physical", "connection": {
                               "type": "direct", "kubeconfig": yaml.safe_dump(emulator.kubeconfig())}}})[0]


def site(platform, name: str, emulator, groups: list[str], nodes_per_group: int = 1):
    """Cluster ``name`` on ``emulator``: a node group per name of ``groups`` with its nodes labelled on the
    emulator (its kubelet on), and namespace ``shop`` known on the platform."""
    cluster = register_cluster(platform, name, emulator)
    emulator.kubelet_on(nodes=[])
    for group in groups:
        platform.nodegroup(group, name)
        for number in range(nodes_per_group):
            emulator.add_node(f"{group}-n{number}", labels={"theriseunion.io/nodegroup": group})
    platform.namespace("shop", name)
    return cluster


def application(platform, name: str = "pos"):
    """An application of the ``workload`` provisioner, at the platform."""
    return platform.apply({"apiVersion": GROUP, "kind": "Application", "metadata": {
        "name": name, "labels": {"app.theriseunion.io/provisioner": "workload"}}, "spec": {}})[0]


def workload_config(image: str = "registry.example/pos:1.0.0", replicas: int = 1, stateful: bool = False) -> dict:
    """A workloadConfig with one Deployment ``web`` (and a StatefulSet ``db`` with ``stateful``)."""
    config = {"deployments": [{"name": "web", "spec": {"replicas": replicas, "template": {"spec": {"containers": [
        {"name": "web", "image": image, "env": [{"name": "MODE", "value": "shop"}]}]}}}}]}
    if stateful:
        config["statefulSets"] = [{"name": "db", "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "db", "image": "registry.example/db:1"}]}}}}]
    return config


def version(platform, app: str, number: str, *, approve: bool = True, config: dict | None = None,
            reviewer: str = "reviewer"):
    """Version ``number`` of ``app`` (submitted by the system), approved by ``reviewer`` unless ``approve`` is
    False."""
    row = platform.apply({"apiVersion": GROUP, "kind": "ApplicationVersion",
                          "metadata": {"name": f"{app}-{number.replace('.', '-')}"},
                          "spec": {"applicationRef": app, "version": number,
                                   "workloadConfig": config or workload_config(f"registry.example/{app}:{number}")}})[0]
    if approve:
        row = review.decide(row, "Approve", user=person(reviewer))
    return ApplicationVersion.objects.get(pk=row.pk)


def person(name: str):
    """A platform administrator of that name (made once)."""
    from iam.models import User

    return User.objects.filter(name=name).first() or UserFactory(name=name, superuser=True)


def deployment(platform, name: str, app: str, topologies: list[dict], *, version_request: str = "latest",
               namespace: str = "shop", home: str | None = "north", rollout: dict | None = None):
    """An ApplicationDeployment written as the system."""
    labels = {"scope.theriseunion.io/cluster": home} if home else {}
    spec = {"application": app, "version": version_request, "topologies": topologies}
    if rollout:
        spec["rollout"] = rollout
    row = platform.apply({"apiVersion": GROUP, "kind": "ApplicationDeployment",
                          "metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": spec})[0]
    return ApplicationDeployment.objects.get(pk=row.pk)


def run(deployment_row):
    """One reconcile attempt (what the Celery task does); the deployment re-read into ``deployment_row``."""
    outcome = reconcile(CONTROLLER, deployment_row.pk)
    if ApplicationDeployment.objects.filter(pk=deployment_row.pk).exists():
        deployment_row.refresh_from_db()
    return outcome


def settle(*emulators) -> None:
    """Wait until every emulator's kubelet has nothing left to do."""
    for emulator in emulators:
        emulator.settle()


def workloads(emulator, namespace: str = "shop", kind: str = "deployments") -> dict[str, dict]:
    """The workloads of ``kind`` on ``emulator`` in ``namespace``, by name."""
    return {item["metadata"]["name"]: item for item in emulator.objects(kind, namespace=namespace)}


def writes(emulator) -> list:
    """The write requests ``emulator`` received (and forget them)."""
    found = emulator.requests.writes()
    emulator.requests.clear()
    return found
