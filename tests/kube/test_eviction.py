"""PodDisruptionBudget status and the Eviction subresource, as kube-apiserver and the disruption controller answer."""
from __future__ import annotations

import pytest
from kubernetes import client

from tests.kube.testing import deployment, error_of, wait_for


def _pod(core, name, labels, ready=True, phase="Running", owner=None):
    meta = {"name": name, "labels": labels}
    if owner:
        meta["ownerReferences"] = [owner]
    core.create_namespaced_pod("default", {"metadata": meta, "spec": {"containers": [{"name": "c", "image": "x:1"}]}})
    core.patch_namespaced_pod_status(name, "default", {"status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}})


def _budget(policy, name="budget", **spec):
    return policy.create_namespaced_pod_disruption_budget("default", {"metadata": {"name": name}, "spec": dict(
        {"selector": {"matchLabels": {"app": "web"}}}, **spec)})


def _evict(core, name):
    return core.create_namespaced_pod_eviction(name, "default", client.V1Eviction(
        metadata=client.V1ObjectMeta(name=name, namespace="default")))


def test_budget_status_counts_ready_pods_of_its_selector(core, policy):
    for i, ready in enumerate((True, True, False)):
        _pod(core, f"web-{i}", {"app": "web"}, ready=ready)
    _pod(core, "other", {"app": "db"})
    _budget(policy, minAvailable=1)
    status = policy.read_namespaced_pod_disruption_budget("budget", "default").status
    assert (status.current_healthy, status.desired_healthy, status.expected_pods, status.disruptions_allowed) == \
        (2, 1, 3, 1)
    assert status.observed_generation == 1
    assert [(c.type, c.status, c.reason) for c in status.conditions] == [("DisruptionAllowed", "True",
                                                                         "SufficientPods")]
    core.patch_namespaced_pod_status("web-1", "default", {"status": {"conditions": [
        {"type": "Ready", "status": "False"}]}})
    status = policy.read_namespaced_pod_disruption_budget("budget", "default").status
    assert (status.current_healthy, status.disruptions_allowed, status.conditions[0].reason) == \
        (1, 0, "InsufficientPods")


def test_eviction_deletes_the_pod_when_the_budget_allows_and_429_when_it_blocks(kube, core, policy):
    for i in range(3):
        _pod(core, f"web-{i}", {"app": "web"})
    _budget(policy, minAvailable=2)
    _evict(core, "web-0")  # 201 with a Success Status (which the client reads into a V1Eviction)
    assert (kube.requests[-1].verb, kube.requests[-1].status) == ("create", 201)
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["web-1", "web-2"]
    assert policy.read_namespaced_pod_disruption_budget("budget", "default").status.disruptions_allowed == 0
    status, error = error_of(_evict, core, "web-1")
    assert status == 429
    assert error == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": "Cannot evict pod as it would violate the pod's disruption budget.",
                     "reason": "TooManyRequests", "code": 429, "details": {"causes": [{
                         "reason": "DisruptionBudget",
                         "message": "The disruption budget budget needs 2 healthy pods and has 2 currently"}]}}
    assert core.read_namespaced_pod("web-1", "default")


def test_pending_and_unready_pods_and_missing_pods(core, policy):
    _pod(core, "web-0", {"app": "web"})
    _pod(core, "web-1", {"app": "web"}, phase="Pending", ready=False)
    _pod(core, "web-2", {"app": "web"}, ready=False)
    _budget(policy, minAvailable=1)
    _evict(core, "web-1")  # pending: no budget consulted
    _evict(core, "web-2")  # not ready, and the budget is met without it
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["web-0"]
    status, error = error_of(_evict, core, "web-0")
    assert status == 429 and "needs 1 healthy pods and has 1 currently" in error["details"]["causes"][0]["message"]
    status, error = error_of(_evict, core, "ghost")
    assert (status, error["reason"], error["message"]) == (404, "NotFound", 'pods "ghost" not found')


def test_two_budgets_for_one_pod_are_refused_with_500(core, policy):
    _pod(core, "web-0", {"app": "web"})
    _budget(policy, "one", minAvailable=0)
    _budget(policy, "two", maxUnavailable=1)
    status, error = error_of(_evict, core, "web-0")
    assert status == 500 and error["message"] == ("This pod has more than one PodDisruptionBudget, which the "
                                                  "eviction subresource does not support.")


@pytest.mark.parametrize(("spec", "expected", "desired", "allowed"), [
    ({"maxUnavailable": 1}, 4, 3, 1),
    ({"maxUnavailable": "50%"}, 4, 2, 2),
    ({"minAvailable": "60%"}, 4, 3, 1),
    ({"minAvailable": 4}, 4, 4, 0),
])
def test_budgets_scale_percentages_against_the_controller(kube, apps, core, policy, spec, expected, desired, allowed):
    kube.kubelet_on(nodes=1)
    apps.create_namespaced_deployment("default", deployment("web", replicas=4))
    assert wait_for(lambda: kube.object("deployments", "web", "default").get("status", {}).get("readyReplicas") == 4)
    _budget(policy, **spec)
    status = policy.read_namespaced_pod_disruption_budget("budget", "default").status
    assert (status.expected_pods, status.desired_healthy, status.current_healthy, status.disruptions_allowed) == \
        (expected, desired, 4, allowed)


def test_a_percentage_budget_over_pods_without_a_controller_fails_safe(core, policy):
    _pod(core, "web-0", {"app": "web"})
    _budget(policy, maxUnavailable="50%")
    status = policy.read_namespaced_pod_disruption_budget("budget", "default").status
    assert status.disruptions_allowed == 0
    assert (status.conditions[0].reason, status.conditions[0].message) == ("SyncFailed",
                                                                           'found no controllers for pod "web-0"')
    assert error_of(_evict, core, "web-0")[0] == 429  # the generation was never observed: still being processed


def test_budget_validation(policy):
    status, error = error_of(_budget, policy, minAvailable=1, maxUnavailable=1)
    assert status == 422 and "cannot be both set" in error["details"]["causes"][0]["message"]
    status, error = error_of(_budget, policy, "pct", minAvailable="150%")
    assert status == 422 and error["details"]["causes"][0]["field"] == "spec.minAvailable"
