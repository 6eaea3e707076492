"""A switchable stand-in for the scheduler, the kubelets and the workload controllers of an emulated cluster.

Off by default (a real API server has none of it, and most tests want stored objects to stay as written). When on,
a background thread wakes on every change and runs one level-based pass: node status, the workload controllers
(``controllers.py``), the scheduler (a pod without ``nodeName`` goes to the feasible node with the fewest pods:
not cordoned, labels matching its ``nodeSelector``, taints tolerated; none fits → ``Pending`` with
``PodScheduled=False``), then the kubelets (a bound pod becomes ``Running``, and ``Ready`` unless pods are switched
to not ready, its node is offline, or the readiness delay has not passed). Every write goes through the store, so
watches see each step. Switches are methods on ``Emulator`` (``kubelet_on``, ``pods_ready``, ``node_offline``,
``readiness_delay``).
"""
from __future__ import annotations

import copy
import ipaddress
import threading
import time

from . import controllers
from .patches import now
from .selectors import selector_matches
from .store import ApiError

__all__ = ["Kubelet", "KubeletSwitches", "node_body"]

SCHEDULER, KUBELET = "default-scheduler", "kubelet"
POD_NETWORK = ipaddress.ip_network("10.244.0.0/16")
NODE_NETWORK = ipaddress.ip_network("172.18.0.0/16")
_WATCHED = {("", "pods"), ("", "nodes"), ("apps", "deployments"), ("apps", "replicasets"),
            ("apps", "statefulsets"), ("apps", "daemonsets")}


def node_body(name: str, labels: dict | None = None, taints: list[dict] | None = None,
              unschedulable: bool = False) -> dict:
    """A Node as a kubelet registers it (hostname, OS and architecture labels)."""
    base = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    spec: dict = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"metadata": {"name": name, "labels": dict(base, **(labels or {}))}, "spec": spec}


class Kubelet:
    """The thread and its switches; ``pass_once`` is one reconcile of everything."""

    def __init__(self, store):
        self.store = store
        self.ready = True  # pods become Ready
        self.delay = 0.0  # seconds after a pod starts before it is Ready
        self.offline: set[str] = set()  # nodes whose pods never run
        self.passes = 0
        self.errors: list[Exception] = []  # what a pass raised (``Emulator.settle`` raises the first)
        self._started: dict[str, float] = {}  # pod uid → monotonic time its containers started
        self._due: dict[str, float] = {}  # pod uid → when its readiness delay ends, while it has not
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (no-op when it runs)."""
        if self.running:
            return
        self._stop.clear()
        self._dirty.set()
        self._thread = threading.Thread(target=self._loop, name="kube-emulator-kubelet", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; objects keep the state it gave them."""
        self._stop.set()
        self.store.wake()
        if self._thread:
            self._thread.join(5)
        self._thread = None

    def poke(self) -> None:
        """Run a pass soon (after a switch changed)."""
        self._dirty.set()
        self.store.wake()

    def _loop(self) -> None:
        cursor = self.store.rv
        while not self._stop.is_set():
            try:
                events, cursor = self.store.events_after(cursor, timeout=0.05)
            except ApiError:
                events, cursor = [], self.store.rv  # history compacted under us: a full pass catches up
                self._dirty.set()
            relevant = any(e.key in _WATCHED for e in events)
            if self._stop.is_set():
                break
            if relevant or self._dirty.is_set() or self._waiting():
                self._dirty.clear()
                try:
                    self.pass_once()
                except Exception as error:  # a bug in the emulator: keep running, and let settle() report it
                    self.errors.append(error)

    def _waiting(self) -> bool:
        """A pod's readiness delay has passed since the last pass."""
        moment = time.monotonic()
        return any(due <= moment for due in self._due.values())

    # ----- one pass -----

    def pass_once(self) -> None:
        """Nodes, controllers, scheduler, kubelets: each step sees the writes of the previous ones."""
        self.passes += 1
        self._sync_nodes()
        controllers.collect_garbage(self.store)
        controllers.sync_deployments(self.store)
        controllers.sync_replicasets(self.store)
        controllers.sync_statefulsets(self.store)
        controllers.sync_daemonsets(self.store)
        self._schedule()
        self._run_pods()
        controllers.sync_replicasets(self.store)
        controllers.sync_deployments(self.store)
        controllers.sync_statefulsets(self.store)
        controllers.sync_daemonsets(self.store)

    def _sync_nodes(self) -> None:
        rtype = self.store.lookup("", "v1", "nodes")
        for index, node in enumerate(self.store.snapshot(("", "nodes"))):
            name = node["metadata"]["name"]
            previous = node.get("status") or {}
            status = copy.deepcopy(previous)
            address = previous.get("addresses") or [
                {"type": "InternalIP", "address": str(NODE_NETWORK[index + 2])}, {"type": "Hostname", "address": name}]
            ready = ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.") if name in self.offline \
                else ("True", "KubeletReady", "kubelet is posting ready status")
            before = next((c for c in previous.get("conditions") or [] if c.get("type") == "Ready"), {})
            moved = before.get("status") != ready[0]
            stamp = now() if moved else before.get("lastTransitionTime")
            status.update(
                addresses=address, capacity=previous.get("capacity") or {"cpu": "4", "memory": "8Gi", "pods": "110"},
                allocatable=previous.get("allocatable") or {"cpu": "4", "memory": "8Gi", "pods": "110"},
                nodeInfo=previous.get("nodeInfo") or _node_info(node),
                conditions=[{"type": "Ready", "status": ready[0], "reason": ready[1], "message": ready[2],
                             "lastHeartbeatTime": before.get("lastHeartbeatTime") if not moved else stamp,
                             "lastTransitionTime": stamp}])
            if status != previous:
                self._write(self.store.set_status, rtype, None, name, status, KUBELET)

    @staticmethod
    def _write(write, *args):
        try:
            return write(*args)
        except ApiError:
            return None

    # ----- scheduler -----

    def _schedule(self) -> None:
        nodes = self.store.snapshot(("", "nodes"))
        pods = self.store.snapshot(("", "pods"))
        load = {n["metadata"]["name"]: 0 for n in nodes}
        for pod in pods:
            if pod["spec"].get("nodeName") in load:
                load[pod["spec"]["nodeName"]] += 1
        rtype = self.store.lookup("", "v1", "pods")
        for pod in pods:
            if pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
                continue
            fits, reasons = [], {}
            for node in nodes:
                problem = self._misfit(pod, node)
                if problem:
                    reasons[problem] = reasons.get(problem, 0) + 1
                else:
                    fits.append(node["metadata"]["name"])
            ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            if fits:
                chosen = min(fits, key=lambda n: (load[n], n))
                if self._write(self.store.bind, ns, name, chosen, SCHEDULER):
                    load[chosen] += 1
                continue
            detail = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
            message = f"0/{len(nodes)} nodes are available" + (f": {detail}." if detail else ".")
            status = copy.deepcopy(pod.get("status") or {})
            status["phase"] = "Pending"
            status["conditions"] = [_pod_condition(pod, "PodScheduled", "False", "Unschedulable", message)]
            if status != pod.get("status"):
                self._write(self.store.set_status, rtype, ns, name, status, SCHEDULER)

    @staticmethod
    def _misfit(pod: dict, node: dict) -> str:
        spec = pod.get("spec") or {}
        if (node.get("spec") or {}).get("unschedulable") and not controllers.tolerates(
                spec.get("tolerations"), {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
            return "node(s) were unschedulable"
        if not selector_matches({"matchLabels": spec.get("nodeSelector") or {}}, node["metadata"].get("labels")):
            return "node(s) didn't match Pod's node affinity/selector"
        for taint in (node.get("spec") or {}).get("taints") or []:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not controllers.tolerates(
                    spec.get("tolerations"), taint):
                return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
        return ""

    # ----- kubelets -----

    def _run_pods(self) -> None:
        rtype = self.store.lookup("", "v1", "pods")
        nodes = {n["metadata"]["name"]: n for n in self.store.snapshot(("", "nodes"))}
        pods = self.store.snapshot(("", "pods"))
        live = {p["metadata"]["uid"] for p in pods}
        self._started = {uid: t for uid, t in self._started.items() if uid in live}
        self._due = {uid: t for uid, t in self._due.items() if uid in live}
        used = {(p.get("status") or {}).get("podIP") for p in pods}
        for pod in pods:
            node = nodes.get(pod["spec"].get("nodeName") or "")
            if node is None or pod["metadata"].get("deletionTimestamp"):
                continue
            status = self._pod_status(pod, node, used)
            if status is not None and status != pod.get("status"):
                self._write(self.store.set_status, rtype, pod["metadata"]["namespace"], pod["metadata"]["name"],
                            status, KUBELET)

    def _pod_status(self, pod: dict, node: dict, used: set) -> dict | None:
        previous = pod.get("status") or {}
        name = node["metadata"]["name"]
        if name in self.offline:
            if previous.get("phase") != "Running":  # never started: bound, and nothing more
                status = copy.deepcopy(previous)
                status["conditions"] = [_pod_condition(pod, "PodScheduled", "True", "", "")]
                return status
            return _with_readiness(pod, previous, False)
        uid = pod["metadata"]["uid"]
        due = self._started.setdefault(uid, time.monotonic()) + self.delay
        if time.monotonic() < due:
            self._due[uid] = due
        else:
            self._due.pop(uid, None)
        ready = self.ready and uid not in self._due
        host = next((a["address"] for a in (node.get("status") or {}).get("addresses") or []
                     if a.get("type") == "InternalIP"), "")
        ip = previous.get("podIP") or _free_pod_ip(used)
        used.add(ip)
        started = previous.get("startTime") or now()
        status = copy.deepcopy(previous)
        status.update(phase="Running", hostIP=host, hostIPs=[{"ip": host}], podIP=ip, podIPs=[{"ip": ip}],
                      startTime=started)
        containers = pod["spec"].get("containers") or []
        status["containerStatuses"] = [{
            "name": c.get("name"), "image": c.get("image"), "imageID": f"{c.get('image')}@sha256:emulated",
            "containerID": f"containerd://{uid.replace('-', '')}{i}", "ready": ready, "started": True,
            "restartCount": 0, "state": {"running": {"startedAt": started}}} for i, c in enumerate(containers)]
        return _with_readiness(pod, status, ready)


def _node_info(node: dict) -> dict:
    """``status.nodeInfo`` as a kubelet reports it (the client requires every field)."""
    uid = node["metadata"]["uid"]
    return {"architecture": "amd64", "bootID": uid, "containerRuntimeVersion": "containerd://2.0.0",
            "kernelVersion": "6.8.0", "kubeProxyVersion": "", "kubeletVersion": "v1.33.0",
            "machineID": uid.replace("-", ""), "operatingSystem": "linux", "osImage": "Ubuntu 24.04 LTS",
            "systemUUID": uid}


def _free_pod_ip(used: set) -> str:
    for host in POD_NETWORK.hosts():
        if str(host) not in used:
            return str(host)
    raise RuntimeError("the pod network is full")


def _pod_condition(pod: dict, kind: str, status: str, reason: str, message: str) -> dict:
    before = next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})
    condition = {"type": kind, "status": status, "lastProbeTime": None,
                 "lastTransitionTime": before.get("lastTransitionTime") if before.get("status") == status else now()}
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _with_readiness(pod: dict, status: dict, ready: bool) -> dict:
    status = copy.deepcopy(status)
    names = " ".join(c.get("name", "") for c in pod["spec"].get("containers") or [])
    value = "True" if ready else "False"
    reason, message = ("", "") if ready else ("ContainersNotReady", f"containers with unready status: [{names}]")
    for container in status.get("containerStatuses") or []:
        container["ready"] = ready
    status["conditions"] = [
        _pod_condition(pod, "PodReadyToStartContainers", "True", "", ""),
        _pod_condition(pod, "Initialized", "True", "", ""),
        _pod_condition(pod, "Ready", value, reason, message),
        _pod_condition(pod, "ContainersReady", value, reason, message),
        _pod_condition(pod, "PodScheduled", "True", "", ""),
    ]
    return status


class KubeletSwitches:
    """The switches tests set on an ``Emulator`` (which has ``store``, ``kubelet`` and ``object``)."""

    store: object
    kubelet: Kubelet

    def kubelet_on(self, nodes: int | list[str] = 1, ready: bool = True, delay: float = 0.0) -> list[str]:
        """Start the kubelet; ensure ``nodes`` nodes exist (a count makes ``node-1..n``); returns the node names."""
        names = [f"node-{i + 1}" for i in range(nodes)] if isinstance(nodes, int) else list(nodes)
        for name in names:
            if self.object("nodes", name) is None:
                self.add_node(name)
        self.kubelet.ready, self.kubelet.delay = ready, delay
        self.kubelet.start()
        return names

    def kubelet_off(self) -> None:
        """Stop the kubelet: objects keep the status it gave them, nothing new is scheduled or started."""
        self.kubelet.stop()

    def add_node(self, name: str, labels: dict | None = None, taints: list[dict] | None = None,
                 unschedulable: bool = False) -> dict:
        """Register a node (as its kubelet would); the kubelet, when on, reports it Ready."""
        return self.store.create(self.store.lookup("", "v1", "nodes"), None,
                                 node_body(name, labels, taints, unschedulable), KUBELET)

    def pods_ready(self, ready: bool = True) -> None:
        """All pods become Ready (the default) or, with ``False``, Running but not Ready."""
        self.kubelet.ready = ready
        self.kubelet.poke()

    def node_offline(self, name: str, offline: bool = True) -> None:
        """An offline edge site: the node reports Unknown, its new pods never start and its pods are not Ready."""
        (self.kubelet.offline.add if offline else self.kubelet.offline.discard)(name)
        self.kubelet.poke()

    def readiness_delay(self, seconds: float) -> None:
        """Pods become Ready this long after they start running."""
        self.kubelet.delay = seconds
        self.kubelet.poke()

    def settle(self, timeout: float = 5.0, quiet: float = 0.15) -> bool:
        """Wait until the kubelet has written nothing for ``quiet`` seconds; False when ``timeout`` passed first.

        Raises what a kubelet pass raised, if anything did (an emulator bug would otherwise only show as a timeout).
        """
        deadline = time.monotonic() + timeout
        last, since = self.store.rv, time.monotonic()
        while time.monotonic() < deadline:
            if self.kubelet.errors:
                raise self.kubelet.errors[0]
            time.sleep(0.02)
            if self.store.rv != last or self.kubelet._dirty.is_set() or self.kubelet._waiting():
                last, since = self.store.rv, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return True
        return False
