"""Rollouts when things go wrong: a cluster that does not answer among several, an API server answering 5xx or
409 mid-rollout, a worker that died mid-rollout, the failure budget; and the triggers that queue a reconcile."""
from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.test import override_settings

from appstore import review
from appstore.controller import CONTROLLER
from appstore.models import DeploymentTopology
from appstore.provisioners.workload import WorkloadProvisioner
from edgeplatform import kube as gateway
from edgeplatform.controllers import clock, leases
from edgeplatform.controllers.engine import lease_key
from tests.appstore.rollout_support import (
    FAST,
    application,
    deployment,
    person,
    run,
    settle,
    site,
    version,
    workloads,
    writes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(kube_clusters, platform):
    """Three member clusters: ``north`` (shop-1..4), ``south`` (shop-5), ``west`` (shop-6); an application with
    version 1.0.0 approved."""
    north, south, west = kube_clusters(3)
    with override_settings(**FAST):
        site(platform, "north", north, ["shop-1", "shop-2", "shop-3", "shop-4"])
        site(platform, "south", south, ["shop-5"])
        site(platform, "west", west, ["shop-6"])
        application(platform)
        version(platform, "pos", "1.0.0")
        yield north, south, west


def converge(row, *emulators, attempts: int = 10):
    """Reconcile until Running; the outcomes."""
    outcomes = []
    for _ in range(attempts):
        outcomes.append(run(row))
        if row.phase == "Running":
            return outcomes
        settle(*emulators)
    raise AssertionError(f"not Running: {row.status.get('phase')} {row.status.get('message')}")


def successful_writes(emulator) -> Counter:
    """Write requests the emulator answered with success, by method and path (forgotten afterwards)."""
    found = Counter((w.method, w.path) for w in emulator.requests.writes() if 200 <= w.status < 300)
    emulator.requests.clear()
    return found


def test_unreachable_cluster_leaves_the_others_rolling(fleet, platform):
    north, south, west = fleet
    row = deployment(platform, "pos", "pos", [{"nodeGroup": "shop-1"}, {"nodeGroup": "shop-5"},
                                              {"nodeGroup": "shop-6"}])
    west.delay_next(1, seconds=3)  # west's API server holds the first request for longer than the timeout

    began = time.monotonic()
    outcome = run(row)
    took = time.monotonic() - began

    assert outcome.result == "retry"
    assert took < 2.5  # one timeout (0.5 s), no retry, and the others did not wait for it
    assert row.status["reason"] == "ClusterUnreachable"
    phases = {entry["topology"]["nodeGroup"]: entry["phase"] for entry in row.status["topologyStatuses"]}
    assert phases == {"shop-1": "Progressing", "shop-5": "Progressing", "shop-6": "Unreachable"}
    assert row.phase == "Degraded"
    assert 'cluster "west" did not answer' in row.status["topologyStatuses"][2]["message"]
    assert "clusters not answering: west" in row.status["message"]
    assert "pos-web-shop-1" in workloads(north) and "pos-web-shop-5" in workloads(south)
    assert workloads(west) == {}

    settle(north, south)
    converge(row, north, south, west)  # west answers again: it catches up
    assert workloads(west)["pos-web-shop-6"]["spec"]["template"]["spec"]["nodeSelector"] == {
        "theriseunion.io/nodegroup": "shop-6"}
    assert row.status["readyStatus"] == "3/3"


def test_api_server_errors_mid_rollout_converge_with_nothing_written_twice(fleet, platform):
    north, *_ = fleet
    row = deployment(platform, "pos", "pos", [{"nodeGroup": f"shop-{n}"} for n in range(1, 5)])
    north.fail_next(1, 503, method="PATCH", path_contains="pos-web-shop-2")
    north.fail_next(1, 409, method="PATCH", path_contains="pos-web-shop-3")

    first = run(row)

    assert first.result == "retry" and row.status["reason"] == "RolloutIncomplete"
    entries = {entry["topology"]["nodeGroup"]: entry for entry in row.status["topologyStatuses"]}
    assert entries["shop-2"]["phase"] == "Pending" and "503" in entries["shop-2"]["message"]
    assert entries["shop-3"]["phase"] == "Pending" and "409" in entries["shop-3"]["message"]
    assert entries["shop-1"]["phase"] == entries["shop-4"]["phase"] == "Progressing"
    settle(north)
    converge(row, north)

    done = successful_writes(north)
    paths = [path for (method, path), count in done.items() if "/deployments/" in path]
    assert sorted(paths) == [f"/apis/apps/v1/namespaces/shop/deployments/pos-web-shop-{n}" for n in range(1, 5)]
    assert all(count == 1 for (_, path), count in done.items() if "/deployments/" in path)
    assert len(workloads(north)) == 4


def test_a_worker_killed_mid_rollout_is_resumed_without_duplicates(fleet, platform, monkeypatch):
    north, south, west = fleet
    row = deployment(platform, "pos", "pos", [{"nodeGroup": "shop-1"}, {"nodeGroup": "shop-2"},
                                              {"nodeGroup": "shop-5"}, {"nodeGroup": "shop-6"}])
    # the worker that died had rolled north and recorded it; south and west were refused...
    south.fail_next(1, 503, method="PATCH")
    west.fail_next(1, 503, method="PATCH")
    run(row)
    # ... and it had applied west's topology (a write the cluster took) when it was killed, before recording it
    west_target = next(CONTROLLER._target(row, row.application.versions.get(version="1.0.0"), place)
                       for place in CONTROLLER._places(row)[0] if place.cluster == "west")
    from clusters.models import Cluster

    WorkloadProvisioner().provision(west_target, gateway.member_client(Cluster.objects.get(name="west")))
    settle(north, south, west)
    applied = workloads(west)["pos-web-shop-6"]["metadata"]["resourceVersion"]
    assert DeploymentTopology.objects.get(deployment=row, cluster="west").applied_hash == ""
    leases.acquire(lease_key(CONTROLLER, row.pk), "dead-worker", 300)
    for emulator in (north, south, west):
        emulator.requests.clear()

    assert run(row).result == "busy"  # its lease is held: nothing is touched until it expires
    assert all(len(emulator.requests) == 0 for emulator in (north, south, west))

    later = clock.now() + timedelta(seconds=301)
    monkeypatch.setattr(clock, "now", lambda: later)
    converge(row, north, south, west)

    assert successful_writes(north) == Counter()  # recorded by the dead worker: not written again
    assert [path for _, path in successful_writes(south) if "/deployments/" in path] == [
        "/apis/apps/v1/namespaces/shop/deployments/pos-web-shop-5"]
    assert workloads(west)["pos-web-shop-6"]["metadata"]["resourceVersion"] == applied  # the apply was a no-op
    assert sorted(name for emulator in (north, south, west) for name in workloads(emulator)) == [
        "pos-web-shop-1", "pos-web-shop-2", "pos-web-shop-5", "pos-web-shop-6"]
    assert DeploymentTopology.objects.filter(deployment=row).count() == 4


def test_failure_budget_stops_new_topologies(fleet, platform):
    north, *_ = fleet
    row = deployment(platform, "pos", "pos", [{"nodeGroup": f"shop-{n}"} for n in range(1, 5)],
                     rollout={"maxFailedTopologies": 2})
    north.fail_next(2, 422, method="PATCH", path_contains="/deployments/")

    outcome = run(row)

    assert outcome.result == "retry" and row.status["reason"] == "FailureBudgetSpent"
    assert row.phase == "Failed"
    phases = [entry["phase"] for entry in row.status["topologyStatuses"]]
    assert phases == ["Failed", "Failed", "Pending", "Pending"]
    assert row.status["topologyStatuses"][2]["message"] == "not started: the failure budget is spent"
    assert "2 topologies failed (maxFailedTopologies 2)" in row.status["message"]
    assert len(writes(north)) == 2 and workloads(north) == {}

    converge(row, north)  # the cluster takes them now: every topology is tried again
    assert len(workloads(north)) == 4


def test_writes_and_approvals_queue_the_reconcile(fleet, platform, eager_celery, committed):
    north, *_ = fleet
    with committed():
        row = deployment(platform, "pos", "pos", [{"nodeGroup": "shop-1"}])
    row.refresh_from_db()
    assert row.status["applicationVersion"] == "1.0.0"  # the write queued it, the (eager) task ran it
    assert "pos-web-shop-1" in workloads(north)
    pending = version(platform, "pos", "1.1.0", approve=False)
    settle(north)
    with committed():
        review.decide(pending, "Approve", user=person("lead"))
    row.refresh_from_db()
    assert row.status["applicationVersion"] == "1.1.0"
    assert row.status["history"][-1]["reason"] == "Upgrade"
    assert workloads(north)["pos-web-shop-1"]["metadata"]["labels"]["app.theriseunion.io/version"] == "1.1.0"
