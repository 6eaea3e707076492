"""Node lifecycle: maintenance, back online and decommission, each a reconcile of controller ``node-lifecycle``.

**Asking.** The desired lifecycle is the annotation ``node.theriseunion.io/lifecycle`` on the platform's Node
(``online``, ``maintenance`` or ``decommissioned``): declarative, so ``kubectl``/GitOps and the API both work and
a worker killed mid-drain costs time, not work (the annotation is still there; beat queues the node again). The
console and ``POST .../clusters/<c>/nodes/<n>/lifecycle`` (``clusters.api.lifecycle``) write the annotation
through the write path as the person asking: authorized by the engine at the node's scope (``update`` on
nodes), audited. The annotation lives on the platform only: the member sync compares labels and observed state
and never touches it.

**Steps** (each idempotent; a step that fails is retried with the base's backoff and resumes there):

* ``ensure_cordoned``: ``maintenance``/``decommissioned``: ``spec.unschedulable: true`` on the member node (as
  ``kubectl cordon``); ``online``: the cordon lifted (as ``kubectl uncordon``).
* ``ensure_drained``: ``maintenance``/``decommissioned``: every pod on the node is evicted through the Eviction
  API, so PodDisruptionBudgets are respected, as ``kubectl drain --ignore-daemonsets --delete-emptydir-data
  --force`` does: DaemonSet pods and mirror pods are skipped. One eviction request per pod per attempt, never
  retried inside the attempt: an eviction a budget blocks (429) leaves the attempt with the pod and the budget
  named in the status and is tried again with backoff; a member that fails (5xx, timeout) is retried the same
  way, and the pods already evicted are gone, so none is evicted twice. The step ends once no pod but those is
  left on the node.
* ``ensure_removed``: ``decommissioned``: the node is deleted from the member, then, in one transaction,
  ``clusters.signals.node_decommissioned(node=, actor=)`` is sent and the Node row deleted through the write path
  (audited), which takes the grants bound at the node's scope with it (as every scope's deletion does).

**Status** (``status.lifecycle`` of the platform's Node, written only when it changes; the member sync keeps it)::

    lifecycle:
      desired: maintenance
      phase: Draining               # Online, Cordoned, Draining, Maintenance, Decommissioning
      message: "eviction of shop/web-1 is blocked by PodDisruptionBudget web (needs 2 healthy pods ...)"
      blockedBy: [{pod: shop/web-1, budget: web}]
      updated: "2026-12-04T02:00:00Z"
"""
from __future__ import annotations

import logging
import re

from django.db import transaction

from clusters.manifests import LIFECYCLE_ANNOTATION
from clusters.models import Node
from clusters.signals import node_decommissioned
from edgeplatform import kube as gateway
from edgeplatform.controllers import clock
from edgeplatform.controllers.base import Controller, register
from edgeplatform.controllers.errors import TemporaryError
from edgeplatform.controllers.status import format_time
from edgeplatform.controllers.tasks import enqueue_logged, task_for
from edgeplatform.kube import KubeError, KubeNotConfigured, operations
from edgeplatform.kube.retry import RetryPolicy, call_with_retries
from edgeplatform.resources import services as write
from edgeplatform.resources.converters import converter_for

__all__ = [
    "ACTIONS",
    "CONTROLLER",
    "LIFECYCLE_ANNOTATION",
    "REQUESTER_ANNOTATION",
    "NodeLifecycleController",
    "connect",
    "evict",
    "reconcile_node_lifecycle",
    "request",
]

log = logging.getLogger(__name__)

#: who asked for the lifecycle last (the API and the console write it; the signal's ``actor``)
REQUESTER_ANNOTATION = "node.theriseunion.io/lifecycle-requested-by"
ONLINE, MAINTENANCE, DECOMMISSIONED = "online", "maintenance", "decommissioned"
#: the desired lifecycles, and the number the controller base tracks for each (its "generation")
DESIRED = {ONLINE: 1, MAINTENANCE: 2, DECOMMISSIONED: 3}
#: the API's and the console's actions, and the lifecycle each asks for
ACTIONS = {"online": ONLINE, "uncordon": ONLINE, "maintenance": MAINTENANCE, "drain": MAINTENANCE,
           "decommission": DECOMMISSIONED}
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
_BUDGET = re.compile(r"disruption budget (\S+)")


def desired_of(node: Node) -> str | None:
    """The node's desired lifecycle (None: none asked)."""
    value = (node.annotations or {}).get(LIFECYCLE_ANNOTATION)
    return value if value in DESIRED else None


def request(node: Node, action: str, *, user) -> Node:
    """Ask for a lifecycle (``ACTIONS``) as ``user``: the annotation written through the write path (authorized at
    the node's scope, audited); the reconcile is queued after commit. Returns the saved row."""
    desired = ACTIONS[action]

    def change(manifest):
        annotations = manifest["metadata"].setdefault("annotations", {})
        annotations[LIFECYCLE_ANNOTATION] = desired
        if user is not None and getattr(user, "is_authenticated", False):
            annotations[REQUESTER_ANNOTATION] = user.get_username()

    converter = converter_for(node)
    manifest = converter.to_manifest(node)
    change(manifest)
    return write.save_manifest(converter, manifest, user=user, instance=node, url_name=node.name,
                               context={"cluster": node.cluster.name})


def _phase_changed(before, after) -> bool:
    return ((before or {}).get("lifecycle") or {}).get("phase") != ((after or {}).get("lifecycle") or {}).get("phase")


def report(node: Node, desired: str, phase: str, message: str, blocked: list | None = None) -> None:
    """Write ``status.lifecycle`` (nothing when it says the same; audited when the phase moves)."""
    wanted = {"desired": desired, "phase": phase, "message": message}
    if blocked:
        wanted["blockedBy"] = blocked

    def change(current):
        old = dict(current.get("lifecycle") or {})
        old.pop("updated", None)
        if old == wanted:
            return current
        return {**current, "lifecycle": {**wanted, "updated": format_time(clock.now())}}

    write.save_status(node, change, notable=_phase_changed)


def evict(client, namespace: str, name: str) -> str:
    """One eviction request for a pod (no retry inside): ``evicted``, or ``gone`` when the pod no longer exists;
    a ``KubeError`` otherwise (429 when a budget blocks it)."""
    path = f"/api/v1/namespaces/{namespace}/pods/{name}/eviction"
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
    once = RetryPolicy(retries=0, base=0.0, cap=0.0, deadline=max(client.timeout))
    try:
        call_with_retries(lambda: client._send("POST", path, None, body, "application/json", None), once,
                          f"POST {path} on {client.name}")
    except KubeError as error:
        if error.not_found:
            return "gone"
        raise
    return "evicted"


def _budget_of(error: KubeError, client, pod: dict) -> str:
    """The budget a 429 names (its cause), or the first one selecting the pod."""
    for item in error.causes or []:
        found = _BUDGET.search(str(item.get("message") or ""))
        if found:
            return found.group(1)
    found = _BUDGET.search(error.message or "")
    if found:
        return found.group(1)
    labels = (pod.get("metadata") or {}).get("labels") or {}
    for budget in operations.list_objects(client, "policy/v1", "PodDisruptionBudget", pod["metadata"]["namespace"]):
        match = ((budget.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if match and all(labels.get(key) == value for key, value in match.items()):
            return budget["metadata"]["name"]
    return ""


def _skipped(pod: dict) -> bool:
    """DaemonSet pods and mirror pods stay, as ``kubectl drain --ignore-daemonsets`` leaves them."""
    meta = pod.get("metadata") or {}
    if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
        return True
    return any(owner.get("kind") == "DaemonSet" and owner.get("controller")
               for owner in meta.get("ownerReferences") or [])


def _pod_name(pod: dict) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


@register
class NodeLifecycleController(Controller):
    """Brings each node with a desired lifecycle there (module docstring)."""

    name = "node-lifecycle"
    model = Node
    steps = ("ensure_cordoned", "ensure_drained", "ensure_removed")
    queue = "default"
    writes_status = False  # its status is ``status.lifecycle``, written by the steps
    period_setting = "EDGE_NODE_LIFECYCLE_PERIOD"

    def load(self, key):
        """The node with its cluster."""
        return Node.objects.select_related("cluster", "nodegroup").filter(pk=key).first()

    def keys(self):
        """Nodes with a desired lifecycle only."""
        rows = Node.objects.filter(annotations__has_key=LIFECYCLE_ANNOTATION).values_list("pk", "annotations")
        for pk, notes in rows.iterator():
            yield pk, DESIRED.get((notes or {}).get(LIFECYCLE_ANNOTATION), 0)

    def generation_of(self, node) -> int:
        """The desired lifecycle as a number: a new one starts the steps afresh."""
        return DESIRED.get(desired_of(node), 0)

    # --- helpers -------------------------------------------------------------------------------------------------
    def _client(self, node):
        try:
            return gateway.member_client(node.cluster)
        except KubeNotConfigured as error:
            raise TemporaryError(f"{error}: the node's lifecycle waits for the cluster's connection",
                                 reason="NoConnection", delay=self.period)

    def _member(self, node, client, desired):
        try:
            return operations.get(client, "v1", "Node", node.name)
        except KubeError as error:
            self._unanswered(node, desired, error)

    def _unanswered(self, node, desired, error: KubeError):
        phase = ((node.status or {}).get("lifecycle") or {}).get("phase") or "Cordoned"
        report(node, desired, phase, f"the member did not answer ({error.status or ''} {error.reason}); retrying")
        raise error

    # --- steps ---------------------------------------------------------------------------------------------------
    def ensure_cordoned(self, node, run) -> None:
        """Cordon (maintenance, decommission) or uncordon (online) the member's node."""
        desired = desired_of(node)
        if desired is None:
            return
        client = self._client(node)
        member = self._member(node, client, desired)
        if member is None:
            if desired == DECOMMISSIONED:
                return  # already removed from the member: the last step finishes
            report(node, desired, "Unknown", f'node "{node.name}" is not on the member cluster')
            raise TemporaryError(f'node "{node.name}" is not on the member cluster', reason="NodeNotFound",
                                 delay=self.period)
        cordoned = bool((member.get("spec") or {}).get("unschedulable"))
        try:
            if desired == ONLINE:
                if cordoned:
                    operations.merge_patch(client, "v1", "Node", node.name, {"spec": {"unschedulable": None}})
                report(node, desired, "Online", "schedulable")
                run.message = "online"
                return
            if not cordoned:
                operations.merge_patch(client, "v1", "Node", node.name, {"spec": {"unschedulable": True}})
                report(node, desired, "Cordoned", "cordoned: no new pods are scheduled on the node")
        except KubeError as error:
            self._unanswered(node, desired, error)

    def ensure_drained(self, node, run) -> None:
        """Evict the node's pods (budgets respected) until only DaemonSet and mirror pods are left."""
        desired = desired_of(node)
        if desired not in (MAINTENANCE, DECOMMISSIONED):
            return
        done = "Maintenance" if desired == MAINTENANCE else "Decommissioning"
        client = self._client(node)
        try:
            if desired == DECOMMISSIONED and operations.get(client, "v1", "Node", node.name) is None:
                return
            pods = [pod for pod in operations.list_objects(client, "v1", "Pod",
                                                           field_selector=f"spec.nodeName={node.name}")
                    if not _skipped(pod)]
        except KubeError as error:
            self._unanswered(node, desired, error)
        if not pods:
            report(node, desired, done, "drained: no pods left but DaemonSet and mirror pods")
            run.message = "drained"
            return
        waiting = [pod for pod in pods if (pod.get("metadata") or {}).get("deletionTimestamp")]
        to_evict = [pod for pod in pods if pod not in waiting]
        if ((node.status or {}).get("lifecycle") or {}).get("phase") != "Draining":
            report(node, desired, "Draining", f"draining: {len(to_evict)} pod(s) to evict")
        blocked, evicted = [], 0
        for pod in to_evict:
            meta = pod["metadata"]
            try:
                if evict(client, meta["namespace"], meta["name"]) == "evicted":
                    evicted += 1
            except KubeError as error:
                if error.status == 429:
                    blocked.append({"pod": _pod_name(pod), "budget": _budget_of(error, client, pod),
                                    "message": (error.causes[0].get("message") if error.causes else "")
                                    or error.message})
                    continue
                self._unanswered(node, desired, error)
        if blocked:
            first = blocked[0]
            message = (f"eviction of {first['pod']} is blocked by PodDisruptionBudget {first['budget']}"
                       f"{': ' + first['message'] if first['message'] else ''}"
                       + (f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else "") + "; retrying")
            report(node, desired, "Draining", message,
                   [{"pod": item["pod"], "budget": item["budget"]} for item in blocked])
            raise TemporaryError(message, reason="EvictionBlocked")
        try:
            left = [pod for pod in operations.list_objects(client, "v1", "Pod",
                                                           field_selector=f"spec.nodeName={node.name}")
                    if not _skipped(pod)]
        except KubeError as error:
            self._unanswered(node, desired, error)
        if left:
            report(node, desired, "Draining", f"waiting for {len(left)} evicted pod(s) to terminate")
            raise TemporaryError(f"waiting for {len(left)} pod(s) to terminate", reason="WaitingForPods", delay=2)
        report(node, desired, done, f"drained: {evicted} pod(s) evicted")
        run.message = "drained"

    def ensure_removed(self, node, run) -> None:
        """Decommission: delete the member's node, then announce it and delete the row (and its grants)."""
        if desired_of(node) != DECOMMISSIONED:
            return
        client = self._client(node)
        try:
            operations.ensure_absent(client, "v1", "Node", node.name)
        except KubeError as error:
            self._unanswered(node, DECOMMISSIONED, error)
        actor = (node.annotations or {}).get(REQUESTER_ANNOTATION) or f"system:{self.name}"
        with transaction.atomic():  # announced and removed together: a worker killed between them redoes both
            node_decommissioned.send(sender=Node, node=node, actor=actor)
            write.delete_object(converter_for(node), node)
        log.info("node %s of cluster %s decommissioned (asked by %s)", node.name, node.cluster.name, actor)
        run.deleted = True
        run.result = {"node": node.name, "decommissioned": True}


def _enqueue(key) -> None:
    enqueue_logged(CONTROLLER, key, "lifecycle of node")


def _on_saved(sender, *, obj, before=None, after=None, status_only=False, **kwargs) -> None:
    if not isinstance(obj, Node) or status_only:
        return
    was = (((before or {}).get("metadata") or {}).get("annotations") or {}).get(LIFECYCLE_ANNOTATION)
    now = (((after or {}).get("metadata") or {}).get("annotations") or {}).get(LIFECYCLE_ANNOTATION)
    if now and (was != now or before is None):
        key = obj.pk
        transaction.on_commit(lambda: _enqueue(key))


def connect() -> None:
    """Reconcile a node once its desired lifecycle is written (idempotent)."""
    write.object_saved.connect(_on_saved, dispatch_uid="clusters-node-lifecycle-enqueue")


CONTROLLER = NodeLifecycleController
reconcile_node_lifecycle = task_for(CONTROLLER, "clusters.reconcile_node_lifecycle")
