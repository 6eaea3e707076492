"""Node lifecycle (``clusters.node_lifecycle``), against the emulated API server: maintenance cordons and drains
through the Eviction API (a PodDisruptionBudget that blocks is named in the status, then the drain completes once
it is relaxed; DaemonSet and mirror pods stay), back online uncordons, decommission removes the node from the
member, its row and its grants and announces it; faults (5xx mid-drain) cost no duplicate eviction; the API is
authorized at the node's scope; bad input is a 422 naming the field."""
from __future__ import annotations

import pytest
from django.test import override_settings
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.client.exceptions import ApiException

from clusters.models import Node
from clusters.node_lifecycle import CONTROLLER, LIFECYCLE_ANNOTATION
from clusters.signals import node_decommissioned
from edgeplatform import kube as gateway
from edgeplatform.controllers.engine import reconcile
from iam.audit.models import AuditEvent
from iam.models import IAMRoleBinding
from tests.clusters.sites import FAST, GROUP, connect, core, sync_members
from tests.support import ApiClient

NODES = f"/oapis/{GROUP}/clusters/edge/nodes"
DS_OWNER = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "d5-1", "controller": True}


def pod(api, name, node, labels=None, **meta):
    api.create_namespaced_pod("shop", {"metadata": {"name": name, "labels": labels or {}, **meta},
                                       "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x:1"}]}})
    api.patch_namespaced_pod_status(name, "shop", {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True"}]}})


@pytest.fixture
def edge(kube_clusters, platform, eager_celery):
    """Nodes n1, n2; in namespace shop: web-0 and web-1 on n1, web-2 on n2 (app=web, budget ``web`` with
    minAvailable 3: nothing may go), a DaemonSet pod and a mirror pod on n1."""
    (emulator,) = kube_clusters(1)
    gateway.forget_clients()
    with override_settings(**FAST):
        connect(platform, emulator)
        emulator.add_node("n1")
        emulator.add_node("n2")
        api = core(emulator)
        api.create_namespace({"metadata": {"name": "shop"}})
        for name, node in (("web-0", "n1"), ("web-1", "n1"), ("web-2", "n2")):
            pod(api, name, node, {"app": "web"})
        pod(api, "agent-n1", "n1", {"app": "agent"}, ownerReferences=[DS_OWNER])
        pod(api, "static-n1", "n1", {"app": "static"}, annotations={"kubernetes.io/config.mirror": "x"})
        policy = k8s.PolicyV1Api(config.new_client_from_config(str(emulator.kubeconfig_path)))
        policy.create_namespaced_pod_disruption_budget("shop", {"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}}, "minAvailable": 3}})
        assert sync_members().result == "success"
        yield emulator, api, policy
    gateway.forget_clients()


def run(name="n1"):
    return reconcile(CONTROLLER, Node.objects.get(name=name).pk)


def pods_on(api, node):
    found = api.list_namespaced_pod("shop", field_selector=f"spec.nodeName={node}").items
    return sorted(p.metadata.name for p in found)


def evictions(emulator, status=None):
    return [r for r in emulator.requests if r.path.endswith("/eviction") and (status is None or r.status == status)]


@pytest.fixture
def admin(platform):
    return ApiClient.for_user(platform.user("root", superuser=True))


def test_maintenance_cordons_names_the_blocking_budget_then_drains_once_it_is_relaxed(edge, admin):
    emulator, api, policy = edge
    # WHEN an administrator puts n1 into maintenance through the API
    answer = admin.post(f"{NODES}/n1/lifecycle", {"action": "maintenance"})
    assert answer.status_code == 202, answer.content
    assert Node.objects.get(name="n1").annotations[LIFECYCLE_ANNOTATION] == "maintenance"
    outcome = run()
    # THEN the node is cordoned, and the drain waits on the budget, which the status names with the pods
    assert outcome.result == "retry"
    assert api.read_node("n1").spec.unschedulable is True
    lifecycle = admin.get(f"{NODES}/n1/lifecycle").json()
    assert lifecycle["phase"] == "Draining" and lifecycle["desired"] == "maintenance"
    assert lifecycle["blockedBy"] == [{"pod": "shop/web-0", "budget": "web"}, {"pod": "shop/web-1", "budget": "web"}]
    assert "PodDisruptionBudget web" in lifecycle["message"] and "needs 3 healthy pods" in lifecycle["message"]
    assert pods_on(api, "n1") == ["agent-n1", "static-n1", "web-0", "web-1"]
    # AND a second attempt while still blocked changes nothing in the status
    version = Node.objects.get(name="n1").resource_version
    assert run().result == "retry"
    assert Node.objects.get(name="n1").resource_version == version
    # WHEN the budget is relaxed
    policy.patch_namespaced_pod_disruption_budget("web", "shop", {"spec": {"minAvailable": 1}})
    emulator.requests.clear()
    outcome = run()
    # THEN both pods are evicted once each, the DaemonSet and mirror pods stay, and the node is in Maintenance
    assert outcome.result == "success", outcome
    assert pods_on(api, "n1") == ["agent-n1", "static-n1"]
    assert len(evictions(emulator, 201)) == 2 and len(evictions(emulator)) == 2
    lifecycle = admin.get(f"{NODES}/n1/lifecycle").json()
    assert lifecycle["phase"] == "Maintenance" and lifecycle["blockedBy"] == []
    # AND the request and the phases were audited: the person's update, the system's phase changes
    assert AuditEvent.objects.filter(resource="nodes", name="n1", verb="update", actor="root").exists()
    # AND the member sync keeps the lifecycle status and the annotation
    sync_members()
    node = Node.objects.get(name="n1")
    assert node.status["lifecycle"]["phase"] == "Maintenance"
    assert node.annotations[LIFECYCLE_ANNOTATION] == "maintenance"


def test_back_online_uncordons(edge, admin):
    _, api, policy = edge
    policy.patch_namespaced_pod_disruption_budget("web", "shop", {"spec": {"minAvailable": 0}})
    admin.post(f"{NODES}/n1/lifecycle", {"action": "maintenance"})
    assert run().result == "success"
    assert admin.post(f"{NODES}/n1/lifecycle", {"action": "online"}).status_code == 202
    assert run().result == "success"
    assert not api.read_node("n1").spec.unschedulable
    assert admin.get(f"{NODES}/n1/lifecycle").json()["phase"] == "Online"


def test_decommission_drains_removes_the_node_its_row_and_grants_and_announces_it(edge, admin, platform):
    _, api, policy = edge
    policy.patch_namespaced_pod_disruption_budget("web", "shop", {"spec": {"minAvailable": 1}})
    platform.user("dan")
    platform.bind("n1-ops", "node-admin", "node", "n1", "edge", users=("dan",))
    assert IAMRoleBinding.objects.filter(name="n1-ops").exists()
    heard = []

    def receiver(sender, node, actor, **kwargs):
        heard.append((node.name, node.cluster.name, actor))

    node_decommissioned.connect(receiver)
    try:
        assert admin.post(f"{NODES}/n1/lifecycle", {"action": "decommission"}).status_code == 202
        outcome = run()
        assert outcome.result == "success", outcome
    finally:
        node_decommissioned.disconnect(receiver)
    # THEN the member no longer has the node, and its pods were evicted first
    with pytest.raises(ApiException) as missing:
        api.read_node("n1")
    assert missing.value.status == 404
    assert "web-0" not in pods_on(api, "n1")
    # AND the row and the grants at the node's scope are gone, each audited, and the signal was sent once
    assert not Node.objects.filter(name="n1").exists()
    assert not IAMRoleBinding.objects.filter(name="n1-ops").exists()
    assert AuditEvent.objects.filter(resource="nodes", name="n1", verb="delete").exists()
    assert AuditEvent.objects.filter(resource="iamrolebindings", name="n1-ops", verb="delete").exists()
    assert heard == [("n1", "edge", "root")]
    # AND the next member sync does not bring it back
    sync_members()
    assert not Node.objects.filter(name="n1").exists()


def test_a_member_failing_mid_drain_is_retried_and_no_pod_is_evicted_twice(edge, admin):
    emulator, api, policy = edge
    policy.patch_namespaced_pod_disruption_budget("web", "shop", {"spec": {"minAvailable": 1}})
    admin.post(f"{NODES}/n1/lifecycle", {"action": "maintenance"})
    emulator.requests.clear()
    # WHEN the second eviction is answered 503
    emulator.fail_next(1, status=503, path_contains="web-1/eviction")
    outcome = run()
    assert outcome.result == "retry"
    node = Node.objects.get(name="n1")
    assert "did not answer" in node.status["lifecycle"]["message"]
    # THEN the retry evicts what is left, and every pod was evicted once
    assert run().result == "success"
    assert pods_on(api, "n1") == ["agent-n1", "static-n1"]
    done = [r.path for r in evictions(emulator, 201)]
    assert sorted(done) == [f"/api/v1/namespaces/shop/pods/{name}/eviction" for name in ("web-0", "web-1")]
    assert len(evictions(emulator)) == 3  # one refused by the fault, none repeated


def test_a_timeout_mid_drain_is_retried(edge, admin):
    emulator, api, policy = edge
    policy.patch_namespaced_pod_disruption_budget("web", "shop", {"spec": {"minAvailable": 1}})
    admin.post(f"{NODES}/n1/lifecycle", {"action": "maintenance"})
    emulator.delay_next(1, 3, path_contains="/pods", method="GET", status=504)
    assert run().result == "retry"
    assert run().result == "success"
    assert pods_on(api, "n1") == ["agent-n1", "static-n1"]


def test_a_user_without_node_rights_cannot_drain(edge, platform):
    _, api, _ = edge
    eve = platform.user("eve")
    platform.bind("n1-view", "node-viewer", "node", "n1", "edge", users=("eve",))
    mallory = platform.user("mallory")
    viewer = ApiClient.for_user(eve)
    # a viewer may read the lifecycle but not ask for one
    assert viewer.get(f"{NODES}/n1/lifecycle").status_code == 200
    answer = viewer.post(f"{NODES}/n1/lifecycle", {"action": "maintenance"})
    assert answer.status_code == 403, answer.content
    # one who may not see the node gets 404, as for a missing one
    assert ApiClient.for_user(mallory).post(f"{NODES}/n1/lifecycle", {"action": "maintenance"}).status_code == 404
    assert LIFECYCLE_ANNOTATION not in Node.objects.get(name="n1").annotations
    assert AuditEvent.objects.filter(actor="eve", result="denied").exists()
    assert not api.read_node("n1").spec.unschedulable


def test_bad_input_is_422_naming_the_field(edge, admin):
    answer = admin.post(f"{NODES}/n1/lifecycle", {"action": "explode"})
    assert answer.status_code == 422 and answer.json()["details"]["causes"][0]["field"] == "action"
    body = admin.get(f"{NODES}/n1").json()
    body["metadata"].setdefault("annotations", {})[LIFECYCLE_ANNOTATION] = "sleeping"
    answer = admin.put(f"{NODES}/n1", body)
    assert answer.status_code == 422
    assert answer.json()["details"]["causes"][0]["field"] == f"metadata.annotations[{LIFECYCLE_ANNOTATION}]"
    assert LIFECYCLE_ANNOTATION not in Node.objects.get(name="n1").annotations


def test_kubectl_style_annotation_works_as_the_action(edge, admin):
    _, api, policy = edge
    policy.patch_namespaced_pod_disruption_budget("web", "shop", {"spec": {"minAvailable": 1}})
    answer = admin.patch(f"{NODES}/n1", {"metadata": {"annotations": {LIFECYCLE_ANNOTATION: "maintenance"}}})
    assert answer.status_code == 200, answer.content
    assert run().result == "success"
    assert api.read_node("n1").spec.unschedulable is True and pods_on(api, "n1") == ["agent-n1", "static-n1"]


WORKER = """
import sys
import django
django.setup()
from clusters.node_lifecycle import CONTROLLER
from edgeplatform.controllers.engine import reconcile
reconcile(CONTROLLER, sys.argv[1], owner="killed-worker")
"""


@pytest.mark.multiprocess
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_drain_resumes_and_evicts_no_pod_twice(edge, admin, monkeypatch):
    import os
    import signal
    import subprocess
    import sys
    import time
    from datetime import timedelta

    from django.db import connection

    from edgeplatform.controllers import clock, leases, tasks
    from edgeplatform.controllers.engine import lease_key
    from tests.iam.test_cache_invalidation import database_url
    from tests.paths import ROOT

    emulator, api, policy = edge
    policy.patch_namespaced_pod_disruption_budget("web", "shop", {"spec": {"minAvailable": 1}})

    def broker_down(*args, **kwargs):
        raise ConnectionError("the broker is down")  # the request's task is queued by the worker below instead

    with monkeypatch.context() as patch:
        patch.setattr(tasks, "enqueue", broker_down)
        assert admin.post(f"{NODES}/n1/lifecycle", {"action": "maintenance"}).status_code == 202
    node = Node.objects.get(name="n1")
    emulator.requests.clear()
    # GIVEN a worker whose second eviction hangs on the API server (and is refused once the worker is dead)
    emulator.delay_next(1, 5, path_contains="web-1/eviction", status=503)
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "edgeplatform.settings", "CELERY_BROKER_URL": "memory://",
           "EDGE_KUBE_READ_TIMEOUT": "60", "EDGE_KUBE_RETRIES": "0"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(node.pk)], cwd=ROOT, env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(evictions(emulator)) < 2 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
        assert len(evictions(emulator)) == 2, "the worker never reached the second eviction"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # WHEN it is killed mid-drain
        worker.wait(timeout=10)
    # THEN the node is held by the dead worker until its lease runs out: nothing is done twice meanwhile
    assert leases.holder(lease_key(CONTROLLER, node.pk)) == "killed-worker"
    assert run().result == "busy"
    # WHEN the lease's term has passed THEN the next attempt resumes the drain and finishes it
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + timedelta(seconds=301))
    time.sleep(5)  # the held request is answered (refused) first
    assert run().result == "success"
    assert pods_on(api, "n1") == ["agent-n1", "static-n1"]
    done = sorted(r.path.split("/")[-2] for r in evictions(emulator, 201))
    assert done == ["web-0", "web-1"]
    assert Node.objects.get(name="n1").status["lifecycle"]["phase"] == "Maintenance"
