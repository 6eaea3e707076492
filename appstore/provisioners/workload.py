"""The ``workload`` provisioner: a version's plain Deployments and StatefulSets, rendered per topology.

A version's ``workloadConfig`` lists ``deployments[]`` (and ``statefulSets[]``), each ``{name, spec}``. For one
topology every item becomes one object of its kind:

* its ``spec`` with the topology's ``workloadOverride`` deep-merged over it (the same shape, items matched by
  ``name``; inside a spec, maps merge key by key and lists of named items, such as containers or env, merge item
  by item by ``name``; any other value is replaced), and ``replicas`` set to the topology's when it gives one;
* the labels of ``Target.labels()`` plus ``app.theriseunion.io/workload: <item>`` on the object and its pod
  template; a selector on the labels that never change for that object (deployment, topology hash, workload), so
  an upgrade never touches the immutable selector;
* placed by ``Target.node_selector`` (``theriseunion.io/nodegroup=<group>`` or ``kubernetes.io/hostname=<node>``)
  merged into the pod's ``nodeSelector``; on the cloud side (``__cloud__``) no pin but a node affinity keeping it off
  edge nodes;
* named ``<deployment>-<item>-<place>`` (place: the node group, the node, ``cloud``, or the cluster for a topology
  the scheduler places), unique in the namespace of the cluster; a name longer than the kind allows is cut and
  ends with a hash of the whole (StatefulSets: 52 characters, so that their pods' revision labels fit in 63).

Objects are server-side applied (``kubeobjects.apply_all``) into the deployment's namespace on the topology's
cluster, which is created when missing; ``unprovision`` and ``status`` are ``kubeobjects.remove`` and
``kubeobjects.workload_states`` (one LIST per kind and one of pods per cluster).
"""
from __future__ import annotations

import copy
import hashlib

from appstore.provisioners import kubeobjects, register
from appstore.provisioners.base import Provisioned, Provisioner, Target, TopologyState
from edgeplatform.resources.errors import cause

__all__ = ["CLOUD_AFFINITY", "KINDS", "WORKLOAD_LABEL", "WorkloadProvisioner", "deep_merge", "object_name", "render"]

WORKLOAD_LABEL = "app.theriseunion.io/workload"
#: (config list, apiVersion, kind, longest name)
KINDS = (("deployments", "apps/v1", "Deployment", 63), ("statefulSets", "apps/v1", "StatefulSet", 52))
#: the cloud side: any node that is not an edge node (neither the Kubernetes edge role nor OpenYurt's label)
CLOUD_AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
    "matchExpressions": [
        {"key": "node-role.kubernetes.io/edge", "operator": "DoesNotExist"},
        {"key": "openyurt.io/is-edge-worker", "operator": "NotIn", "values": ["true"]},
    ]}]}}}


def deep_merge(base, override):
    """``override`` merged over ``base`` (neither changed): maps key by key, lists of maps that all carry a
    ``name`` item by item by name (new names appended), anything else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = copy.deepcopy(base)
        for key, value in override.items():
            out[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(override, list) and _named(base) and _named(override):
        out = [copy.deepcopy(item) for item in base]
        positions = {item["name"]: index for index, item in enumerate(out)}
        for item in override:
            if item["name"] in positions:
                out[positions[item["name"]]] = deep_merge(out[positions[item["name"]]], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(override)


def _named(items: list) -> bool:
    return bool(items) and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items)


def _place(target: Target) -> str:
    if target.cloud:
        return "cloud"
    return target.node_group or target.node_name or target.cluster


def object_name(target: Target, item: str, longest: int = 63) -> str:
    """The name of ``item``'s object for ``target`` (see the module docstring)."""
    name = f"{target.deployment.name}-{item}-{_place(target)}".lower().replace("_", "-").replace(".", "-")
    if len(name) <= longest:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:longest - 11].rstrip('-')}-{digest}"


def render(target: Target) -> list[dict]:
    """The objects of ``target``'s topology at ``target.version`` (see the module docstring), in config order."""
    config = (target.version.spec or {}).get("workloadConfig") or {}
    override = (target.topology or {}).get("workloadOverride") or {}
    objects = []
    for key, api_version, kind, longest in KINDS:
        changes = {item.get("name"): item for item in override.get(key) or [] if isinstance(item, dict)}
        for item in config.get(key) or []:
            spec = deep_merge(item.get("spec") or {}, (changes.get(item["name"]) or {}).get("spec") or {})
            objects.append(_object(target, api_version, kind, item["name"], spec, longest))
    return objects


def _object(target: Target, api_version: str, kind: str, item: str, spec: dict, longest: int) -> dict:
    labels = {**target.labels(), WORKLOAD_LABEL: item}
    stable = {key: labels[key] for key in (kubeobjects.DEPLOYMENT_LABEL, kubeobjects.TOPOLOGY_LABEL, WORKLOAD_LABEL)}
    name = object_name(target, item, longest)
    if target.replicas is not None:
        spec["replicas"] = target.replicas
    spec["selector"] = {"matchLabels": stable}
    template = spec.setdefault("template", {})
    meta = template.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), **labels}
    pod = template.setdefault("spec", {})
    if target.node_selector:
        pod["nodeSelector"] = {**(pod.get("nodeSelector") or {}), **target.node_selector}
    if target.cloud:
        pod["affinity"] = deep_merge(pod.get("affinity") or {}, CLOUD_AFFINITY)
    if kind == "StatefulSet":
        spec.setdefault("serviceName", name)
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": target.namespace, "labels": labels}, "spec": spec}


@register
class WorkloadProvisioner(Provisioner):
    """Plain Deployments and StatefulSets per topology (module docstring)."""

    type, config_key = "workload", "workloadConfig"

    def validate(self, config: dict) -> list[dict]:
        """Each item has a name and a pod template with at least one container, each with a name and an image;
        names are unique per kind."""
        problems = []
        if not isinstance(config, dict):
            return [cause("spec.workloadConfig", "must be an object", "FieldValueInvalid")]
        if not any(config.get(key) for key, *_ in KINDS):
            problems.append(cause("spec.workloadConfig.deployments", "at least one deployment or statefulSet is "
                                  "required", "FieldValueRequired"))
        for key, *_ in KINDS:
            items = config.get(key) or []
            if not isinstance(items, list):
                problems.append(cause(f"spec.workloadConfig.{key}", "must be a list", "FieldValueInvalid"))
                continue
            seen = set()
            for index, item in enumerate(items):
                problems.extend(_item_problems(f"spec.workloadConfig.{key}[{index}]", item, seen))
        return problems

    def provision(self, target: Target, client) -> Provisioned:
        """Server-side apply the topology's objects (the namespace created when missing)."""
        objects = render(target)
        writes = kubeobjects.apply_all(client, objects, namespace=target.namespace)
        return Provisioned([item["metadata"]["name"] for item in objects], writes)

    def unprovision(self, deployment, client, keep: frozenset[str] = frozenset()) -> int:
        """Delete the deployment's Deployments and StatefulSets on this cluster but those of ``keep``."""
        return kubeobjects.remove(client, deployment, kubeobjects.WORKLOAD_KINDS, keep)

    def status(self, targets: list[Target], client) -> dict[str, TopologyState]:
        """One LIST of Deployments, one of StatefulSets, one of pods."""
        return kubeobjects.workload_states(targets, client, kubeobjects.WORKLOAD_KINDS)


def _item_problems(where: str, item, seen: set) -> list[dict]:
    if not isinstance(item, dict):
        return [cause(where, "must be an object", "FieldValueInvalid")]
    problems = []
    name = item.get("name")
    if not isinstance(name, str) or not name:
        problems.append(cause(f"{where}.name", "is required", "FieldValueRequired"))
    elif name in seen:
        problems.append(cause(f"{where}.name", f'duplicate name "{name}"', "FieldValueDuplicate"))
    else:
        seen.add(name)
    containers = (((item.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
    if not isinstance(containers, list) or not containers:
        problems.append(cause(f"{where}.spec.template.spec.containers", "at least one container is required",
                              "FieldValueRequired"))
        return problems
    for number, container in enumerate(containers):
        here = f"{where}.spec.template.spec.containers[{number}]"
        if not isinstance(container, dict):
            problems.append(cause(here, "must be an object", "FieldValueInvalid"))
            continue
        for field in ("name", "image"):
            if not isinstance(container.get(field), str) or not container.get(field):
                problems.append(cause(f"{here}.{field}", "is required", "FieldValueRequired"))
    return problems
