"""Kubernetes objects of a deployment on one member cluster, for the provisioners that make plain objects
(``workload``, ``model``): apply, prune and read back, each in as few requests as the cluster allows.

Everything a provisioner makes for a topology carries the labels of ``Target.labels()``
(``app.theriseunion.io/deployment`` and ``app.theriseunion.io/topology-hash`` among them), so that:

* ``apply_all`` server-side applies a topology's objects (field manager ``FIELD_MANAGER``, forced: the platform
  owns what it declared), the namespace first when the cluster lacks it;
* ``remove`` lists each kind once in the deployment's namespace by the deployment label and deletes the objects
  of topologies not in ``keep`` (the pruning of removed topologies, and the whole unprovision);
* ``workload_states`` lists each workload kind once (and the pods once, for the nodes they run on) and folds the
  items into a ``TopologyState`` per topology key (``topology_state``: the same fold for workloads found
  otherwise, e.g. those of a Helm release).

A 404 on a kind the cluster does not serve is "nothing there" for ``remove`` and ``workload_states``.
"""
from __future__ import annotations

from collections import defaultdict

from appstore.provisioners.base import Target, TopologyState
from edgeplatform import kube
from edgeplatform.kube import KubeError

__all__ = ["DEPLOYMENT_LABEL", "FIELD_MANAGER", "TOPOLOGY_LABEL", "VERSION_LABEL", "WORKLOAD_KINDS", "apply_all",
           "listed", "remove", "selector", "topology_state", "workload_states"]

FIELD_MANAGER = "edge-platform-appstore"
DEPLOYMENT_LABEL = "app.theriseunion.io/deployment"
TOPOLOGY_LABEL = "app.theriseunion.io/topology-hash"
VERSION_LABEL = "app.theriseunion.io/version"
WORKLOAD_KINDS = (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"))


def selector(deployment) -> str:
    """The label selector of everything ``deployment`` made."""
    return f"{DEPLOYMENT_LABEL}={deployment.name}"


def apply_all(client, objects: list[dict], *, namespace: str | None = None) -> int:
    """Server-side apply ``objects`` in order; how many writes were sent. ``namespace`` (when given) is created
    when an apply answers 404 because it is missing, and the apply sent again: a namespace that exists, the
    usual case, costs no request."""
    writes = 0
    for manifest in objects:
        writes += 1
        try:
            kube.apply(client, manifest, field_manager=FIELD_MANAGER)
        except KubeError as error:
            if not (namespace and error.not_found):
                raise
            # created now, or by another writer since the apply failed: either way the apply is sent again
            writes += 2 if kube.ensure_namespace(client, namespace) else 1
            kube.apply(client, manifest, field_manager=FIELD_MANAGER)
    return writes


def listed(client, api_version: str, kind: str, namespace: str, label_selector: str | None) -> list[dict]:
    """The objects of a kind in ``namespace`` matching ``label_selector``; [] when the cluster does not serve the
    kind (no CRD) or the namespace is gone."""
    try:
        return kube.list_objects(client, api_version, kind, namespace=namespace, label_selector=label_selector)
    except KubeError as error:
        if error.status == 404:  # the kind is not served there (no CRD), or the namespace is gone
            return []
        raise


def remove(client, deployment, kinds, keep: frozenset[str] = frozenset()) -> int:
    """Delete the objects of ``kinds`` (``(apiVersion, kind)`` pairs) that ``deployment`` made in its namespace,
    except those of the topology keys in ``keep``; how many deletes were sent. Topology keys are unique across
    clusters (the cluster is part of them), so ``keep`` may hold every topology of the deployment: what two
    Cluster rows reaching one API server share is then left alone."""
    deleted = 0
    for api_version, kind in kinds:
        for item in listed(client, api_version, kind, deployment.namespace, selector(deployment)):
            metadata = item.get("metadata") or {}
            if (metadata.get("labels") or {}).get(TOPOLOGY_LABEL) in keep:
                continue
            if kube.ensure_absent(client, api_version, kind, metadata["name"], deployment.namespace):
                deleted += 1
    return deleted


def _replicas(item: dict) -> tuple[int, int, bool, str]:
    """(wanted, ready, settled, failure message) of one Deployment, StatefulSet or DaemonSet."""
    spec, status = item.get("spec") or {}, item.get("status") or {}
    if item.get("kind") == "DaemonSet":
        wanted = int(status.get("desiredNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0) >= wanted
    else:
        wanted = int(spec.get("replicas", 1) or 0)
        ready = int(status.get("readyReplicas") or 0)
        # a Deployment has rolled out when every replica runs the new template and the old ones are gone (surge)
        updated = int(status.get("updatedReplicas") or 0) >= wanted and int(status.get("replicas") or 0) <= wanted \
            if item.get("kind") == "Deployment" else int(status.get("updatedReplicas", wanted) or 0) >= wanted
    ready = min(ready, wanted)
    observed = int(status.get("observedGeneration") or 0) >= int((item.get("metadata") or {}).get("generation") or 0)
    failure = ""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("status") == "False":
            failure = condition.get("message") or condition.get("reason") or "not progressing"
    return wanted, ready, observed and updated and ready >= wanted, failure


def topology_state(items: list[dict], nodes=(), version: str | None = None) -> TopologyState:
    """The ``TopologyState`` of one topology's workloads (Deployments, StatefulSets, DaemonSets as the cluster
    has them; at least one): ``Running`` when every one has its replicas ready at its current generation,
    ``Failed`` when one stopped progressing, ``Progressing`` otherwise; ``nodes`` are where its pods run;
    ``version`` (None: the one the items' version label agrees on)."""
    wanted = ready = 0
    settled, failures = True, []
    for item in items:
        item_wanted, item_ready, item_settled, failure = _replicas(item)
        wanted, ready, settled = wanted + item_wanted, ready + item_ready, settled and item_settled
        if failure:
            failures.append(f"{item['metadata']['name']}: {failure}")
    phase = "Failed" if failures else "Running" if settled else "Progressing"
    if version is None:
        versions = {((item.get("metadata") or {}).get("labels") or {}).get(VERSION_LABEL, "") for item in items}
        version = versions.pop() if len(versions) == 1 else ""
    return TopologyState(phase, replicas=wanted, ready_replicas=ready, nodes=sorted(nodes),
                         workloads=sorted(item["metadata"]["name"] for item in items), message="; ".join(failures),
                         version=version)


def workload_states(targets: list[Target], client, kinds=WORKLOAD_KINDS) -> dict[str, TopologyState]:
    """A ``TopologyState`` per target key from one LIST per workload kind and one of pods (all of the targets'
    deployment, in its namespace): ``Running`` when every workload has its replicas ready at its current
    generation, ``Failed`` when one stopped progressing, ``Progressing`` otherwise, ``Missing`` when nothing of
    the topology is there."""
    if not targets:
        return {}
    deployment = targets[0].deployment
    found: dict[str, list[dict]] = defaultdict(list)
    for api_version, kind in kinds:
        for item in listed(client, api_version, kind, deployment.namespace, selector(deployment)):
            found[((item.get("metadata") or {}).get("labels") or {}).get(TOPOLOGY_LABEL, "")].append(item)
    nodes: dict[str, set] = defaultdict(set)
    if found:
        for pod in listed(client, "v1", "Pod", deployment.namespace, selector(deployment)):
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                nodes[((pod.get("metadata") or {}).get("labels") or {}).get(TOPOLOGY_LABEL, "")].add(node)
    states = {}
    for target in targets:
        items = found.get(target.key, [])
        if not items:
            states[target.key] = TopologyState("Missing", message="nothing of it is on the cluster")
            continue
        states[target.key] = topology_state(items, nodes.get(target.key, ()))
    return states
