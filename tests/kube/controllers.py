"""The workload controllers of kube-controller-manager, reduced to what tests of rollouts and readiness need.

Each ``sync_*`` function is one level-based pass over the stored objects of its kind: Deployments make and scale
ReplicaSets (one per pod template, found by ``pod-template-hash``; a rolling update scales the new one up within
``maxSurge`` and the old ones down within ``maxUnavailable``, ``Recreate`` empties the old ones first), ReplicaSets
make and delete pods, StatefulSets make ordered pods ``<name>-0..n-1`` (one at a time under ``OrderedReady``) and
replace them highest ordinal first on a template change, DaemonSets make one pod per eligible node. Each writes the
status its real controller writes. Pods and ReplicaSets whose controlling owner is gone are deleted (the garbage
collector's background propagation). Writes go through the store, so watches see them; a refused write (a conflict
with a client, a terminating namespace) is left for the next pass.
"""
from __future__ import annotations

import copy
import hashlib
import json

from .disruption import is_ready
from .patches import now
from .selectors import selector_matches
from .store import ApiError
from .workloads import int_or_percent

__all__ = ["MANAGER", "collect_garbage", "sync_daemonsets", "sync_deployments", "sync_replicasets",
           "sync_statefulsets", "template_hash", "tolerates"]

MANAGER = "kube-controller-manager"
HASH_LABEL, REVISION_LABEL = "pod-template-hash", "controller-revision-hash"
REVISION = "deployment.kubernetes.io/revision"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
#: the tolerations the DaemonSet controller adds to its pods (so cordoned and not-ready nodes keep them)
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def template_hash(template: dict) -> str:
    """A short, stable name for a pod template (the role of ``pod-template-hash``)."""
    digest = int(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:8], 16)
    return "".join(_SAFE[int(d)] for d in str(digest))[:10]


def _type(store, group, plural):
    return store.lookup(group, "v1", plural)


def _try(write, *args, **kwargs):
    try:
        return write(*args, **kwargs)
    except ApiError:
        return None


def _owner_ref(kind: str, obj: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": kind, "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def _owned_by(objs: list[dict], owner: dict) -> list[dict]:
    uid = owner["metadata"]["uid"]
    return [o for o in objs if o["metadata"]["namespace"] == owner["metadata"]["namespace"]
            and any(r.get("uid") == uid and r.get("controller") for r in o["metadata"].get("ownerReferences") or [])]


def _active(pods: list[dict]) -> list[dict]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


def _status(values: dict, always: tuple[str, ...] = ()) -> dict:
    """Drop zero counts, as ``omitempty`` does in the API types (``always`` lists the fields without it)."""
    return {k: v for k, v in values.items() if k in always or v not in (0, None, [], "")}


def _condition(previous: list[dict], kind: str, status: str, reason: str, message: str,
               update_time: bool = False) -> dict:
    before = next((c for c in previous or [] if c.get("type") == kind), {})
    moved = before.get("status") != status
    same = not moved and before.get("reason") == reason and before.get("message") == message
    condition = {"type": kind, "status": status}
    if update_time:
        condition["lastUpdateTime"] = before.get("lastUpdateTime") if same else now()
    condition.update(lastTransitionTime=before.get("lastTransitionTime") if not moved else now(), reason=reason,
                     message=message)
    return condition


def _pod_body(template: dict, namespace: str, owner_ref: dict, labels: dict, name: str = "",
              generate_name: str = "") -> dict:
    meta = copy.deepcopy(template.get("metadata") or {})
    meta["labels"] = dict(meta.get("labels") or {}, **labels)
    meta.update(namespace=namespace, ownerReferences=[owner_ref])
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name
    return {"metadata": meta, "spec": copy.deepcopy(template.get("spec") or {})}


# ----- Deployments -----

def sync_deployments(store) -> None:
    """Deployments → ReplicaSets (rolling or recreate), then the Deployment's status."""
    rs_type = _type(store, "apps", "replicasets")
    for deployment in store.snapshot(("apps", "deployments")):
        if deployment["metadata"].get("deletionTimestamp"):
            continue
        owned = _owned_by(store.snapshot(("apps", "replicasets")), deployment)
        new_rs = _ensure_new_replicaset(store, rs_type, deployment, owned)
        if new_rs is None:
            continue
        old = [rs for rs in owned if rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        if not (deployment["spec"].get("paused")):
            _scale(store, rs_type, deployment, new_rs, old)
        _deployment_status(store, deployment)


def _ensure_new_replicaset(store, rs_type, deployment: dict, owned: list[dict]) -> dict | None:
    template = deployment["spec"]["template"]
    digest = template_hash(template)
    found = next((rs for rs in owned if rs["metadata"].get("labels", {}).get(HASH_LABEL) == digest), None)
    if found:
        return found
    name, ns = deployment["metadata"]["name"], deployment["metadata"]["namespace"]
    revision = 1 + max((int(rs["metadata"].get("annotations", {}).get(REVISION, 0)) for rs in owned), default=0)
    rs_template = copy.deepcopy(template)
    rs_template.setdefault("metadata", {})["labels"] = dict(rs_template["metadata"].get("labels") or {},
                                                            **{HASH_LABEL: digest})
    selector = copy.deepcopy(deployment["spec"]["selector"])
    selector["matchLabels"] = dict(selector.get("matchLabels") or {}, **{HASH_LABEL: digest})
    replicas = deployment["spec"]["replicas"] if not owned else 0
    body = {"metadata": {"name": f"{name}-{digest}", "namespace": ns, "labels": rs_template["metadata"]["labels"],
                         "annotations": {REVISION: str(revision)},
                         "ownerReferences": [_owner_ref("Deployment", deployment)]},
            "spec": {"replicas": replicas, "selector": selector, "template": rs_template,
                     "minReadySeconds": deployment["spec"].get("minReadySeconds", 0)}}
    return _try(store.create, rs_type, ns, body, MANAGER)


def _set_replicas(store, rs_type, rs: dict, replicas: int) -> None:
    if rs["spec"].get("replicas") == replicas:
        return
    changed = copy.deepcopy(rs)
    changed["spec"]["replicas"] = replicas
    result = _try(store.update, rs_type, rs["metadata"]["namespace"], rs["metadata"]["name"], changed, MANAGER)
    if result:
        rs.update(result)


def _scale(store, rs_type, deployment: dict, new_rs: dict, old: list[dict]) -> None:
    desired = deployment["spec"]["replicas"]
    strategy = deployment["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        for rs in old:
            _set_replicas(store, rs_type, rs, 0)
        pods = _owned_pods(store, old)
        if not _active(pods):
            _set_replicas(store, rs_type, new_rs, desired)
        return
    rolling = strategy.get("rollingUpdate") or {}
    surge = int_or_percent(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = int_or_percent(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    if not old:
        _set_replicas(store, rs_type, new_rs, desired)
        return
    total = sum(rs["spec"].get("replicas", 0) for rs in [*old, new_rs])
    new_count = new_rs["spec"].get("replicas", 0)
    if new_count > desired:
        _set_replicas(store, rs_type, new_rs, desired)
    elif new_count < desired:
        _set_replicas(store, rs_type, new_rs, min(desired, new_count + max(0, desired + surge - total)))
    total = sum(rs["spec"].get("replicas", 0) for rs in [*old, new_rs])
    new_unavailable = new_rs["spec"].get("replicas", 0) - (new_rs.get("status") or {}).get("availableReplicas", 0)
    removable = total - (desired - unavailable) - max(0, new_unavailable)
    for rs in sorted(old, key=lambda r: r["metadata"].get("creationTimestamp", "")):
        if removable <= 0:
            break
        take = min(rs["spec"].get("replicas", 0), removable)
        if take:
            _set_replicas(store, rs_type, rs, rs["spec"]["replicas"] - take)
            removable -= take


def _owned_pods(store, owners: list[dict]) -> list[dict]:
    pods = store.snapshot(("", "pods"))
    return [p for owner in owners for p in _owned_by(pods, owner)]


def _deployment_status(store, deployment: dict) -> None:
    owned = _owned_by(store.snapshot(("apps", "replicasets")), deployment)
    digest = template_hash(deployment["spec"]["template"])
    new_rs = next((rs for rs in owned if rs["metadata"].get("labels", {}).get(HASH_LABEL) == digest), None)

    def total(field: str, sets=owned) -> int:
        return sum((rs.get("status") or {}).get(field, 0) for rs in sets)

    desired = deployment["spec"]["replicas"]
    rolling = (deployment["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    unavailable = int_or_percent(rolling.get("maxUnavailable", 0), desired, round_up=False)
    available = total("availableReplicas")
    spec_total = sum(rs["spec"].get("replicas", 0) for rs in owned)
    previous = (deployment.get("status") or {}).get("conditions") or []
    minimum = available >= desired - unavailable
    conditions = [_condition(previous, "Available", "True" if minimum else "False",
                             "MinimumReplicasAvailable" if minimum else "MinimumReplicasUnavailable",
                             "Deployment has minimum availability." if minimum
                             else "Deployment does not have minimum availability.", update_time=True)]
    if new_rs is not None:
        updated = (new_rs.get("status") or {}).get("replicas", 0)
        name = new_rs["metadata"]["name"]
        complete = updated == desired and total("replicas") == desired and available == desired
        reason, message = (("NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.')
                           if complete else ("ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'))
        conditions.append(_condition(previous, "Progressing", "True", reason, message, update_time=True))
    status = _status({
        "observedGeneration": deployment["metadata"]["generation"], "replicas": total("replicas"),
        "updatedReplicas": (new_rs.get("status") or {}).get("replicas", 0) if new_rs else 0,
        "readyReplicas": total("readyReplicas"), "availableReplicas": available,
        "unavailableReplicas": max(0, spec_total - available), "conditions": conditions})
    _try(store.set_status, _type(store, "apps", "deployments"), deployment["metadata"]["namespace"],
         deployment["metadata"]["name"], status, MANAGER)


# ----- ReplicaSets -----

def _deletion_rank(pod: dict) -> tuple:
    """Which pods a ReplicaSet removes first: unscheduled, then pending, then not ready, then the newest."""
    status = pod.get("status") or {}
    return (bool((pod.get("spec") or {}).get("nodeName")), status.get("phase") == "Running", is_ready(pod),
            [-ord(c) for c in pod["metadata"].get("creationTimestamp", "")])


def sync_replicasets(store) -> None:
    """ReplicaSets → pods (created from the template, surplus deleted), then the ReplicaSet's status."""
    pods_type, rs_type = _type(store, "", "pods"), _type(store, "apps", "replicasets")
    all_pods = store.snapshot(("", "pods"))
    for rs in store.snapshot(("apps", "replicasets")):
        if rs["metadata"].get("deletionTimestamp"):
            continue
        ns = rs["metadata"]["namespace"]
        pods = _active(_owned_by(all_pods, rs))
        want = rs["spec"].get("replicas", 1)
        for _ in range(want - len(pods)):
            body = _pod_body(rs["spec"]["template"], ns, _owner_ref("ReplicaSet", rs), {},
                             generate_name=f"{rs['metadata']['name']}-")
            created = _try(store.create, pods_type, ns, body, MANAGER)
            if created:
                pods.append(created)
        for pod in sorted(pods, key=_deletion_rank)[:max(0, len(pods) - want)]:
            _try(store.delete, pods_type, ns, pod["metadata"]["name"])
            pods.remove(pod)
        selector = rs["spec"].get("selector")
        status = _status({
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(1 for p in pods if selector_matches(selector, p["metadata"].get("labels"))),
            "readyReplicas": sum(1 for p in pods if is_ready(p)),
            "availableReplicas": sum(1 for p in pods if is_ready(p)),
            "observedGeneration": rs["metadata"]["generation"]}, always=("replicas",))
        _try(store.set_status, rs_type, ns, rs["metadata"]["name"], status, MANAGER)


# ----- StatefulSets -----

def sync_statefulsets(store) -> None:
    """StatefulSets → pods ``<name>-<ordinal>``, in order, replaced highest ordinal first on a template change."""
    pods_type, sts_type = _type(store, "", "pods"), _type(store, "apps", "statefulsets")
    all_pods = store.snapshot(("", "pods"))
    for sts in store.snapshot(("apps", "statefulsets")):
        if sts["metadata"].get("deletionTimestamp"):
            continue
        name, ns, spec = sts["metadata"]["name"], sts["metadata"]["namespace"], sts["spec"]
        revision = f"{name}-{template_hash(spec['template'])}"
        pods = {p["metadata"]["name"]: p for p in _active(_owned_by(all_pods, sts))}
        replicas, ordered = spec.get("replicas", 1), spec.get("podManagementPolicy") == "OrderedReady"
        for ordinal in range(replicas):
            pod_name = f"{name}-{ordinal}"
            if pod_name in pods:
                if ordered and not is_ready(pods[pod_name]):
                    break
                continue
            labels = {REVISION_LABEL: revision, "statefulset.kubernetes.io/pod-name": pod_name,
                      "apps.kubernetes.io/pod-index": str(ordinal)}
            body = _pod_body(spec["template"], ns, _owner_ref("StatefulSet", sts), labels, name=pod_name)
            body["spec"].update(hostname=pod_name, subdomain=spec.get("serviceName", ""))
            created = _try(store.create, pods_type, ns, body, MANAGER)
            if created:
                pods[pod_name] = created
            if ordered:
                break
        surplus = sorted((p for p in pods if _ordinal(p, name) >= replicas), key=lambda p: -_ordinal(p, name))
        for pod_name in surplus[:1] if ordered else surplus:
            _try(store.delete, pods_type, ns, pod_name)
            pods.pop(pod_name)
        _roll(store, pods_type, sts, pods, revision)
        _statefulset_status(store, sts_type, sts, list(pods.values()), revision)


def _ordinal(pod_name: str, name: str) -> int:
    tail = pod_name[len(name) + 1:]
    return int(tail) if tail.isdigit() else -1


def _roll(store, pods_type, sts: dict, pods: dict, revision: str) -> None:
    strategy = sts["spec"].get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete" or len(pods) < sts["spec"].get("replicas", 1):
        return
    if not all(is_ready(p) for p in pods.values()):
        return
    partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
    stale = [n for n, p in pods.items() if p["metadata"].get("labels", {}).get(REVISION_LABEL) != revision
             and _ordinal(n, sts["metadata"]["name"]) >= partition]
    if stale:
        victim = max(stale, key=lambda n: _ordinal(n, sts["metadata"]["name"]))
        _try(store.delete, pods_type, sts["metadata"]["namespace"], victim)
        pods.pop(victim)


def _statefulset_status(store, sts_type, sts: dict, pods: list[dict], revision: str) -> None:
    previous = sts.get("status") or {}
    updated = sum(1 for p in pods if p["metadata"].get("labels", {}).get(REVISION_LABEL) == revision)
    replicas = sts["spec"].get("replicas", 1)
    current_revision = previous.get("currentRevision") or revision
    if updated == replicas == len(pods):
        current_revision = revision
    current = sum(1 for p in pods if p["metadata"].get("labels", {}).get(REVISION_LABEL) == current_revision)
    ready = sum(1 for p in pods if is_ready(p))
    status = _status({"observedGeneration": sts["metadata"]["generation"], "replicas": len(pods),
                      "readyReplicas": ready, "currentReplicas": current, "updatedReplicas": updated,
                      "currentRevision": current_revision, "updateRevision": revision, "collisionCount": 0,
                      "availableReplicas": ready}, always=("replicas", "availableReplicas", "collisionCount"))
    _try(store.set_status, sts_type, sts["metadata"]["namespace"], sts["metadata"]["name"], status, MANAGER)


# ----- DaemonSets -----

def tolerates(tolerations: list[dict], taint: dict) -> bool:
    """Whether a taint is tolerated (``Exists`` with no key tolerates everything)."""
    for toleration in tolerations or []:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists":
            if not toleration.get("key") or toleration["key"] == taint.get("key"):
                return True
        elif toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


def _eligible(node: dict, pod_spec: dict, tolerations: list[dict]) -> bool:
    if not selector_matches({"matchLabels": pod_spec.get("nodeSelector") or {}}, node["metadata"].get("labels")):
        return False
    return all(tolerates(tolerations, t) for t in (node.get("spec") or {}).get("taints") or []
               if t.get("effect") in ("NoSchedule", "NoExecute"))


def sync_daemonsets(store) -> None:
    """DaemonSets → one pod on every node whose labels match and whose taints are tolerated."""
    pods_type, ds_type = _type(store, "", "pods"), _type(store, "apps", "daemonsets")
    all_pods, nodes = store.snapshot(("", "pods")), store.snapshot(("", "nodes"))
    for ds in store.snapshot(("apps", "daemonsets")):
        if ds["metadata"].get("deletionTimestamp"):
            continue
        ns, spec = ds["metadata"]["namespace"], ds["spec"]
        revision = template_hash(spec["template"])
        template = copy.deepcopy(spec["template"])
        template["spec"]["tolerations"] = (template["spec"].get("tolerations") or []) + [
            t for t in DAEMON_TOLERATIONS if t not in (template["spec"].get("tolerations") or [])]
        eligible = {n["metadata"]["name"] for n in nodes
                    if _eligible(n, template["spec"], template["spec"]["tolerations"])}
        pods = _active(_owned_by(all_pods, ds))
        by_node = {(p.get("spec") or {}).get("nodeName"): p for p in pods}
        for pod in pods:
            if pod["spec"].get("nodeName") not in eligible:
                _try(store.delete, pods_type, ns, pod["metadata"]["name"])
                by_node.pop(pod["spec"].get("nodeName"), None)
        for node in sorted(eligible - set(by_node)):
            body = _pod_body(template, ns, _owner_ref("DaemonSet", ds), {REVISION_LABEL: revision},
                             generate_name=f"{ds['metadata']['name']}-")
            body["spec"]["nodeName"] = node
            created = _try(store.create, pods_type, ns, body, MANAGER)
            if created:
                by_node[node] = created
        stale = [p for p in by_node.values() if p["metadata"].get("labels", {}).get(REVISION_LABEL) != revision]
        if stale and all(is_ready(p) for p in by_node.values()) and \
                (spec.get("updateStrategy") or {}).get("type") != "OnDelete":
            _try(store.delete, pods_type, ns, stale[0]["metadata"]["name"])
            by_node.pop(stale[0]["spec"]["nodeName"])
        scheduled = list(by_node.values())
        ready = sum(1 for p in scheduled if is_ready(p))
        status = _status({
            "currentNumberScheduled": len(scheduled), "numberMisscheduled": 0,
            "desiredNumberScheduled": len(eligible), "numberReady": ready,
            "observedGeneration": ds["metadata"]["generation"],
            "updatedNumberScheduled": len(scheduled) - len([p for p in stale if p in scheduled]),
            "numberAvailable": ready, "numberUnavailable": max(0, len(eligible) - ready)},
            always=("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"))
        _try(store.set_status, ds_type, ns, ds["metadata"]["name"], status, MANAGER)


# ----- garbage collection -----

def collect_garbage(store) -> None:
    """Delete pods and ReplicaSets whose controlling owner no longer exists (background propagation)."""
    alive = {o["metadata"]["uid"] for key in (("apps", "deployments"), ("apps", "replicasets"),
                                              ("apps", "statefulsets"), ("apps", "daemonsets"))
             for o in store.snapshot(key)}
    for group, plural in (("apps", "replicasets"), ("", "pods")):
        rtype = _type(store, group, plural)
        for obj in store.snapshot((group, plural)):
            ref = next((r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
            if ref and ref.get("kind") in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet") \
                    and ref.get("uid") not in alive and not obj["metadata"].get("deletionTimestamp"):
                _try(store.delete, rtype, obj["metadata"]["namespace"], obj["metadata"]["name"])
