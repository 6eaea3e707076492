"""PodDisruptionBudget status (the disruption controller) and the ``pods/<name>/eviction`` subresource.

The status is recomputed by the store after every change to pods, budgets or workloads in a namespace (see
``Store.reactors``): ``expectedPods`` and ``desiredHealthy`` from ``minAvailable`` / ``maxUnavailable`` (ints or
percentages, scaled against the pods' controllers as the real controller does), ``currentHealthy`` from the Ready
condition of the selected pods that are not being deleted, ``disruptionsAllowed`` and the ``DisruptionAllowed``
condition. ``evict`` follows kube-apiserver's ``EvictionREST.Create``: pending and terminal pods are deleted without
looking at budgets, a blocked eviction is 429 TooManyRequests with the ``DisruptionBudget`` cause.
"""
from __future__ import annotations

import copy

from .patches import now
from .selectors import selector_is_empty, selector_matches
from .workloads import int_or_percent

__all__ = ["budget_status", "evict", "is_ready", "react"]

PDBS, PODS = ("policy", "poddisruptionbudgets"), ("", "pods")
_RELEVANT = {PDBS, PODS, ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets")}
TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."


def is_ready(pod: dict) -> bool:
    """The pod's Ready condition is True."""
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _in(store, key, namespace) -> list[dict]:
    return [o for (ns, _), o in sorted(store.objects.get(key, {}).items()) if ns == namespace]


def _selected(store, pdb: dict) -> list[dict]:
    selector = (pdb.get("spec") or {}).get("selector")
    if selector_is_empty(selector):  # an empty budget selector selects nothing, unlike a workload's
        return []
    return [p for p in _in(store, PODS, pdb["metadata"]["namespace"])
            if selector_matches(selector, p["metadata"].get("labels"))]


def _controller(obj: dict) -> dict | None:
    return next((r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")), None)


def _expected_scale(store, pods: list[dict]) -> int:
    """Sum of the scale of the pods' controllers (a Deployment's for its ReplicaSets' pods)."""
    scales: dict[str, int] = {}
    for pod in pods:
        ref = _controller(pod)
        owner = None
        if ref and ref.get("kind") in ("ReplicaSet", "StatefulSet"):
            plural = "replicasets" if ref["kind"] == "ReplicaSet" else "statefulsets"
            owner = store.objects.get(("apps", plural), {}).get((pod["metadata"]["namespace"], ref["name"]))
            if owner and owner["metadata"].get("uid") != ref.get("uid"):
                owner = None
            parent = owner and _controller(owner)
            if owner and parent and parent.get("kind") == "Deployment":
                owner = store.objects.get(("apps", "deployments"), {}).get(
                    (pod["metadata"]["namespace"], parent["name"])) or owner
        if owner is None:
            raise LookupError(f'found no controllers for pod "{pod["metadata"]["name"]}"')
        scales[owner["metadata"]["uid"]] = (owner.get("spec") or {}).get("replicas", 1)
    return sum(scales.values())


def budget_status(store, pdb: dict) -> dict:
    """The status the disruption controller writes for ``pdb`` now."""
    spec, status = pdb.get("spec") or {}, copy.deepcopy(pdb.get("status") or {})
    pods = _selected(store, pdb)
    healthy = sum(1 for p in pods if not p["metadata"].get("deletionTimestamp") and is_ready(p))
    try:
        if "maxUnavailable" in spec:
            expected = _expected_scale(store, pods)
            desired = max(0, expected - int_or_percent(spec["maxUnavailable"], expected, round_up=True))
        elif isinstance(spec.get("minAvailable"), str):
            expected = _expected_scale(store, pods)
            desired = int_or_percent(spec["minAvailable"], expected, round_up=True)
        else:
            expected, desired = len(pods), int(spec.get("minAvailable") or 0)
    except LookupError as error:  # failSafe: no disruption allowed, the generation not observed
        status.update(disruptionsAllowed=0)
        _condition(status, pdb, "False", "SyncFailed", str(error), status.get("observedGeneration", 0))
        return status
    allowed = max(0, healthy - desired)
    status.update(observedGeneration=pdb["metadata"].get("generation", 1), disruptionsAllowed=allowed,
                  currentHealthy=healthy, desiredHealthy=desired, expectedPods=expected)
    status.pop("disruptedPods", None)
    if allowed > 0:
        _condition(status, pdb, "True", "SufficientPods", "", status["observedGeneration"])
    else:
        _condition(status, pdb, "False", "InsufficientPods", "", status["observedGeneration"])
    return status


def _condition(status: dict, pdb: dict, value: str, reason: str, message: str, generation: int) -> None:
    before = next((c for c in (pdb.get("status") or {}).get("conditions") or []
                   if c.get("type") == "DisruptionAllowed"), {})
    changed = before.get("status") != value
    status["conditions"] = [{"type": "DisruptionAllowed", "status": value, "observedGeneration": generation,
                             "lastTransitionTime": now() if changed else before.get("lastTransitionTime"),
                             "reason": reason, "message": message}]


def react(store, event) -> None:
    """After a change to pods, budgets or workloads: refresh the status of the namespace's budgets."""
    if event.key not in _RELEVANT or not event.namespace:
        return
    rtype = store.lookup("policy", "v1", "poddisruptionbudgets")
    for pdb in _in(store, PDBS, event.namespace):
        status = budget_status(store, pdb)
        if status != pdb.get("status"):
            obj = copy.deepcopy(pdb)
            obj["status"] = status
            store.put_internal(rtype, obj, pdb)


def evict(store, namespace: str, name: str, body: dict) -> tuple[int, dict]:
    """POST ``pods/<name>/eviction``: (HTTP status, Status) or an ``ApiError`` (404, 429, 403)."""
    from .store import ApiError, bad_request, not_found

    if not isinstance(body, dict) or (body.get("metadata") or {}).get("name") != name:
        raise bad_request("name in URL does not match name in Eviction object")
    pods = store.lookup("", "v1", "pods")
    pod = store.objects[PODS].get((namespace, name))
    if pod is None:
        raise not_found(pods, name)
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed", "Pending") or pod["metadata"].get("deletionTimestamp"):
        store.delete(pods, namespace, name)
        return 201, _success()
    budgets = _matching(store, pod, namespace)
    if len(budgets) > 1:
        return 500, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 500,
                     "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                                "does not support."}
    if budgets:
        pdb = budgets[0]
        status = pdb.get("status") or {}
        current, desired = status.get("currentHealthy", 0), status.get("desiredHealthy", 0)
        if not (not is_ready(pod) and current >= desired and desired > 0):
            _check(pdb, ApiError)
    store.delete(pods, namespace, name)
    return 201, _success()


def _matching(store, pod: dict, namespace: str) -> list[dict]:
    return [b for b in _in(store, PDBS, namespace)
            if not selector_is_empty((b.get("spec") or {}).get("selector"))
            and selector_matches(b["spec"]["selector"], pod["metadata"].get("labels"))]


def _check(pdb: dict, api_error) -> None:
    """``checkAndDecrement`` without the decrement: the store recomputes the budget once the pod is gone."""
    name, status = pdb["metadata"]["name"], pdb.get("status") or {}
    if status.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
        raise api_error(429, "TooManyRequests", TOO_MANY, {"retryAfterSeconds": 10, "causes": [
            {"reason": "DisruptionBudget", "message": f"The disruption budget {name} is still being processed by "
                                                      "the server."}]}, headers={"Retry-After": "10"})
    if status.get("disruptionsAllowed", 0) < 0:
        raise api_error(403, "Forbidden", f'poddisruptionbudget.policy "{name}" is forbidden: pdb disruptions '
                        "allowed is negative", {"name": name, "group": "policy", "kind": "poddisruptionbudget"})
    if status.get("disruptionsAllowed", 0) == 0:
        raise api_error(429, "TooManyRequests", TOO_MANY, {"causes": [
            {"reason": "DisruptionBudget", "message": f"The disruption budget {name} needs "
                                                      f"{status.get('desiredHealthy', 0)} healthy pods and has "
                                                      f"{status.get('currentHealthy', 0)} currently"}]})


def _success() -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
