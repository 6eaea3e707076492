"""What a provisioner is (DESIGN §7, the brief's ``ProvisionerPlugin``): the interface every type implements.

A provisioner turns one ApplicationVersion into Kubernetes objects on one topology of a deployment. The
deployment controller (``appstore.controller``) calls it per topology and per cluster:

* ``validate(config)``: the version's config for this type (``workloadConfig``, ``helmConfig``, ``modelConfig``
  or a plugin's own key) → causes (``edgeplatform.resources.errors.cause``) naming ``spec.<key>...``; called when
  a version is written, so a bad config is a 422 and never reaches a cluster;
* ``provision(target, client)``: bring the topology's objects to the version (create or change, idempotent:
  server-side apply, or Helm's install-or-upgrade); returns a ``Provisioned``;
* ``update(target, client)``: the same for a topology already provisioned at another version or spec (by
  default ``provision``: an apply is both);
* ``unprovision(deployment, client, keep)``: remove what the deployment made on that cluster except the
  topologies whose keys are in ``keep`` (an empty ``keep``: everything; this is also how removed topologies are
  pruned); returns how many objects went;
* ``status(targets, client)``: how the given topologies of one cluster are doing, read in as few requests as
  the type allows (one LIST per kind for the whole cluster, not one GET per topology) → ``{key:
  TopologyState}``.

Helpers every type shares: ``Target.labels()`` (what everything made carries), ``Target.affinity`` (the cloud
side's node affinity), ``Target.override`` (the topology's ``workloadOverride``), ``deep_merge`` (overrides over
a version's config), ``scoped_name``/``owns`` (names made from a deployment and a topology key, read back
exactly).

``client`` is the gateway's client for the topology's cluster (``edgeplatform.kube``); a provisioner never opens
its own connection. A ``KubeError`` or a Helm error raised by any method is the controller's to retry; a
``PermanentError`` (``edgeplatform.controllers.errors``) means only a new version or spec can help.
"""
from __future__ import annotations

import abc
import copy
import hashlib
import json
from dataclasses import dataclass, field

__all__ = ["CLOUD", "CLOUD_AFFINITY", "Provisioned", "Provisioner", "Target", "TopologyState", "deep_merge",
           "owns", "scoped_name", "topology_key"]

#: the ``nodeGroup`` of a topology that runs on the cloud side of its cluster: no node-group pin
CLOUD = "__cloud__"
#: what keeps a cloud-side topology's pods off edge nodes (KubeEdge's and OpenYurt's edge labels)
CLOUD_AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "node-role.kubernetes.io/edge", "operator": "DoesNotExist"},
                          {"key": "openyurt.io/is-edge-worker", "operator": "NotIn", "values": ["true"]}]}]}}}


def topology_key(cluster: str, node_group: str = "", node_name: str = "") -> str:
    """The stable identity of a topology within a deployment (its ``app.theriseunion.io/topology-hash``): the
    first 10 hex digits of sha256 over cluster, node group and node; the same place is the same key whatever
    its index in ``spec.topologies``."""
    text = json.dumps([cluster, node_group or "", node_name or ""], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def scoped_name(name: str, key: str, limit: int = 63) -> str:
    """The name of what a deployment ``name`` makes for topology ``key``: ``<name>-<key>``, at most ``limit``
    characters. A name too long for that keeps its start and gets 8 hex digits of its sha256 in between
    (``<start>-<digest>-<key>``), so two long names never meet; the same name and key always give the same
    result, which is how an owner is told from a name (``owns``)."""
    if len(name) + len(key) + 1 <= limit:
        return f"{name}-{key}"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    start = name[:max(limit - len(key) - len(digest) - 2, 1)].rstrip("-.")
    return f"{start}-{digest}-{key}"


def owns(name: str, scoped: str, limit: int = 63) -> str | None:
    """The topology key of ``scoped`` when ``scoped_name(name, key, limit)`` made it, else None."""
    key = scoped[-10:]
    if len(key) == 10 and all(c in "0123456789abcdef" for c in key) and scoped_name(name, key, limit) == scoped:
        return key
    return None


def deep_merge(base: dict, over: dict) -> dict:
    """``over`` merged into a copy of ``base``: mappings merge key by key, anything else (lists too) in ``over``
    replaces what ``base`` has; ``base`` and ``over`` are left as they were."""
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass
class Target:
    """One topology of a deployment, resolved: everything a provisioner needs to render and place it."""

    deployment: object          # appstore.models.ApplicationDeployment
    application: object         # appstore.models.Application
    version: object             # appstore.models.ApplicationVersion (the resolved, approved one)
    index: int                  # its index in spec.topologies
    topology: dict              # the topology as spec.topologies holds it
    cluster: str                # the cluster it runs on (its name)
    namespace: str              # the namespace its objects go to on that cluster (the deployment's)
    node_group: str = ""        # the node group it is pinned to ("" with node_name, or on the cloud side)
    node_name: str = ""         # the single node it is pinned to
    cloud: bool = False         # nodeGroup __cloud__: the cloud side, no pin
    replicas: int | None = None  # the topology's replicas (None: the version's own)
    #: the node-group label/selector pin: ``{"theriseunion.io/nodegroup": g}`` or, for nodeName,
    #: ``{"kubernetes.io/hostname": n}``; {} on the cloud side
    node_selector: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``topology_key`` of its place."""
        return topology_key(self.cluster, CLOUD if self.cloud else self.node_group, self.node_name)

    def labels(self) -> dict:
        """The labels everything made for this topology carries (the reference's conventions)."""
        labels = {
            "app.theriseunion.io/application": self.application.name,
            "app.theriseunion.io/version": _label_value(self.version.spec.get("version", "")),
            "app.theriseunion.io/deployment": self.deployment.name,
            "app.theriseunion.io/topology-index": str(self.index),
            "app.theriseunion.io/topology-hash": self.key,
            "app.kubernetes.io/managed-by": "edge-platform",
        }
        if self.node_group and not self.cloud:
            labels["theriseunion.io/nodegroup"] = self.node_group
        return labels

    @property
    def affinity(self) -> dict:
        """The pod affinity its placement needs: ``CLOUD_AFFINITY`` on the cloud side, else {} (the pin is
        ``node_selector``)."""
        return copy.deepcopy(CLOUD_AFFINITY) if self.cloud else {}

    @property
    def override(self) -> dict:
        """The topology's ``workloadOverride`` ({} when it has none)."""
        value = (self.topology or {}).get("workloadOverride")
        return value if isinstance(value, dict) else {}


def _label_value(text: str) -> str:
    """A version as a label value (``+`` is not allowed there)."""
    return text.replace("+", "_")[:63]


@dataclass
class Provisioned:
    """What ``provision``/``update`` did: the names of the main objects (``workloadName`` in the status, joined
    by commas when there are several) and how many writes it sent (0: everything was already in place)."""

    workloads: list[str] = field(default_factory=list)
    writes: int = 0


@dataclass
class TopologyState:
    """How one topology is doing on its cluster: replicas wanted and ready, the nodes its pods run on, a phase
    (``Pending``, ``Progressing``, ``Running``, ``Failed``, ``Missing``: nothing of it is on the cluster) and a
    message for people."""

    phase: str
    replicas: int = 0
    ready_replicas: int = 0
    nodes: list[str] = field(default_factory=list)
    workloads: list[str] = field(default_factory=list)
    message: str = ""
    #: the version its objects carry (``app.theriseunion.io/version``), "" when unknown
    version: str = ""


class Provisioner(abc.ABC):
    """Base class of provisioners; a type sets ``type`` and ``config_key`` and implements the abstract methods
    (``provision``, ``unprovision``, ``status``): a class missing one cannot be instantiated, so the registry
    refuses it when it is registered or loaded (the brief's interface check at registration)."""

    #: the value of the Application's ``app.theriseunion.io/provisioner`` label that selects it
    type: str = ""
    #: the ApplicationVersion spec field holding its config (``workloadConfig``, ``helmConfig``, …)
    config_key: str = ""

    def validate(self, config: dict) -> list[dict]:
        """Causes for what is wrong in ``config`` (the version's ``spec.<config_key>``); [] when it is valid."""
        return []

    @abc.abstractmethod
    def provision(self, target: Target, client) -> Provisioned:
        """Create or change the topology's objects so that they run ``target.version``."""

    def update(self, target: Target, client) -> Provisioned:
        """Change a provisioned topology to ``target.version`` / its new spec (by default: ``provision``)."""
        return self.provision(target, client)

    @abc.abstractmethod
    def unprovision(self, deployment, client, keep: frozenset[str] = frozenset()) -> int:
        """Remove the deployment's objects on ``client``'s cluster except those of the topology keys in
        ``keep``; how many went."""

    @abc.abstractmethod
    def status(self, targets: list[Target], client) -> dict[str, TopologyState]:
        """``TopologyState`` of each of ``targets`` (all on ``client``'s cluster), by ``Target.key``."""
