"""The controller base under faults, on an emulated member cluster.

A small controller writes, for every Workspace, a namespace and a ConfigMap on the workspace's cluster (two
``ensure_*`` steps through the Kubernetes gateway). GIVEN the emulator answering 5xx, 409, nothing at all, or 422,
a lease left by a dead worker, a second worker, a cluster at its limit or a site offline for hours, THEN the status
says which step, why and when the next attempt is, generation never moves for a status write, the audit log gets
one event per Ready flip, and beat finds what lags.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from clusters.models import Workspace
from edgeplatform import kube as gateway
from edgeplatform.controllers import backoff, clock, leases, limits
from edgeplatform.controllers.base import Controller
from edgeplatform.controllers.engine import lease_key, reconcile
from edgeplatform.controllers.errors import TemporaryError
from edgeplatform.controllers.tasks import due
from iam.audit.models import AuditEvent

FAST = {"EDGE_KUBE_RETRIES": 0, "EDGE_KUBE_READ_TIMEOUT": 0.3, "EDGE_KUBE_CONNECT_TIMEOUT": 0.3,
        "EDGE_CONTROLLER_BACKOFF": 5, "EDGE_CONTROLLER_BACKOFF_MAX": 600}
ACTOR = "system:test-configmaps"


class ConfigMaps(Controller):
    """Per workspace: namespace ``ws-<name>`` and ConfigMap ``settings`` in it, holding the display name."""

    name = "test-configmaps"
    model = Workspace
    steps = ("ensure_namespace", "ensure_configmap")
    sort = "cluster"
    period = 600

    def __init__(self):
        self.inside = None  # called inside the second step (a second worker arriving meanwhile)

    def ensure_namespace(self, workspace, run):
        gateway.apply(gateway.member_client(workspace.cluster),
                      {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ws-{workspace.name}"}})

    def ensure_configmap(self, workspace, run):
        if self.inside:
            self.inside()
        metadata = {"name": "settings", "namespace": f"ws-{workspace.name}"}
        gateway.apply(gateway.member_client(workspace.cluster), {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
            "data": {"displayName": (workspace.spec or {}).get("displayName", "")}})
        run.result = "written"


@pytest.fixture
def now(monkeypatch):
    """The controllers' clock, which a test moves forward: ``now.advance(seconds)``."""
    class Clock:
        offset = timedelta()

        def __call__(self):
            return real() + self.offset

        def advance(self, seconds: float):
            self.offset += timedelta(seconds=seconds)

    real = clock.now
    fake = Clock()
    monkeypatch.setattr(clock, "now", fake)
    return fake


@pytest.fixture
def site(kube_clusters, platform):
    """Cluster ``edge`` on an emulated API server, workspace ``w1`` on it, and the controller."""
    (emulator,) = kube_clusters(1)
    platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "edge"},
                    "spec": {"type": "physical", "connection": {"kubernetesAPIEndpoint": emulator.url}}})
    platform.workspace("w1", "edge")

    class Site:
        pass

    out = Site()
    out.kube, out.platform, out.controller = emulator, platform, ConfigMaps()
    with override_settings(**FAST):
        yield out


def workspace(name="w1") -> Workspace:
    return Workspace.objects.get(name=name)


def ready(obj) -> dict:
    return next(c for c in obj.status["conditions"] if c["type"] == "Ready")


def configmap(site, name="w1"):
    return site.kube.object("configmaps", "settings", f"ws-{name}")


def events():
    return list(AuditEvent.objects.filter(actor=ACTOR).order_by("id"))


def counted(result: str) -> float:
    return REGISTRY.get_sample_value("controller_reconcile_total",
                                     {"controller": "test-configmaps", "result": result}) or 0


def test_a_reconcile_runs_the_steps_and_says_so_in_the_status(site):
    before = workspace()
    successes = counted("success")
    outcome = reconcile(site.controller, before.pk)
    assert outcome.result == "success" and outcome.value == "written"
    assert configmap(site)["data"] == {"displayName": ""}
    after = workspace()
    # THEN the status describes the spec it brought about; the write bumped resourceVersion, not generation
    assert after.generation == before.generation and after.resource_version == before.resource_version + 1
    assert after.status["observedGeneration"] == after.generation
    assert {k: v for k, v in ready(after).items() if k != "lastTransitionTime"} == {
        "type": "Ready", "status": "True", "reason": "Reconciled", "message": "", "observedGeneration": 1}
    assert "retryCount" not in after.status and "nextRetryTime" not in after.status
    # one audit event, as the controller's system actor, for Ready appearing
    (event,) = events()
    assert event.verb == "update" and event.name == "w1"
    # a second reconcile changes nothing: no status write, no event
    assert reconcile(site.controller, after.pk).result == "success"
    assert workspace().resource_version == after.resource_version and len(events()) == 1
    assert counted("success") == successes + 2
    assert REGISTRY.get_sample_value("controller_reconcile_duration_seconds_count",
                                     {"controller": "test-configmaps"}) >= 2


@pytest.mark.parametrize("fault,reason", [("503", "Unavailable"), ("409", "Conflict"), ("timeout", "Unavailable")])
def test_an_api_server_fault_is_retried_later_with_backoff(site, now, fault, reason):
    if fault == "timeout":
        site.kube.delay_next(1, 1.0)
    else:
        site.kube.fail_next(1, status=int(fault))
    outcome = reconcile(site.controller, workspace().pk)
    assert outcome.result == "retry" and 2.5 <= outcome.retry_in <= 5
    status = workspace().status
    assert status["step"] == "ensure_namespace" and status["reason"] == reason and status["retryCount"] == 1
    assert status["nextRetryTime"] > status["lastFailureTime"]
    assert ready(workspace())["status"] == "False" and "observedGeneration" not in status
    # beat leaves it until its retry time, then queues it
    assert due(site.controller) == []
    now.advance(outcome.retry_in + 1)
    assert due(site.controller) == [str(workspace().pk)]
    assert reconcile(site.controller, workspace().pk).result == "success"
    assert ready(workspace())["status"] == "True" and "retryCount" not in workspace().status


def test_a_retry_resumes_at_the_step_that_failed(site):
    site.kube.fail_next(1, status=503, path_contains="/configmaps")
    assert reconcile(site.controller, workspace().pk).result == "retry"
    assert workspace().status["step"] == "ensure_configmap"
    site.kube.requests.clear()
    assert reconcile(site.controller, workspace().pk).result == "success"
    # the first step did not run again
    assert not [r for r in site.kube.requests if r.path.endswith("/namespaces/ws-w1")]
    assert configmap(site)


def test_a_site_offline_for_hours_backs_off_to_the_cap_and_audits_one_event_per_flip(site, now):
    site.kube.fail_next(20, status=503)  # each attempt stops at its first request
    generation = workspace().generation
    waits = []
    for _ in range(20):  # at least 4,200 seconds whatever the jitter
        outcome = reconcile(site.controller, workspace().pk)
        assert outcome.result == "retry"
        waits.append(outcome.retry_in)
        status = workspace().status
        expected = clock.now() + timedelta(seconds=outcome.retry_in)
        recorded = datetime.strptime(status["nextRetryTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs((recorded - expected).total_seconds()) < 3  # written to the second, a moment ago
        now.advance(outcome.retry_in)
    # THEN the waits grew and stopped at the cap, the spec generation never moved, and the first
    # transition time stayed while Ready stayed False
    assert waits[0] <= 5 and all(300 <= wait <= 600 for wait in waits[-4:])
    assert sum(waits) > 3600
    assert workspace().status["retryCount"] == 20 and workspace().generation == generation
    assert len(events()) == 1
    first_transition = ready(workspace())["lastTransitionTime"]
    # WHEN the site is back
    assert reconcile(site.controller, workspace().pk).result == "success"
    assert ready(workspace())["lastTransitionTime"] > first_transition
    assert len(events()) == 2  # False, then True: not one per retry


def test_a_lease_left_by_a_dead_worker_costs_time_not_work(site, now):
    key = workspace().pk
    # GIVEN a worker that took the lease and was killed mid-step
    assert leases.acquire(lease_key(site.controller, key), "dead-worker", 300)
    site.kube.requests.clear()
    outcome = reconcile(site.controller, key)
    assert outcome.result == "busy" and outcome.retry_in > 0
    assert site.kube.requests.count_writes() == 0 and due(site.controller) == []
    # WHEN the lease expires, beat finds the object and the next worker does the work
    now.advance(301)
    assert due(site.controller) == [str(key)]
    assert reconcile(site.controller, key).result == "success" and configmap(site)
    assert leases.holder(lease_key(site.controller, key)) is None


def test_two_workers_on_one_object_one_waits(site):
    key = workspace().pk
    second = []
    site.controller.inside = lambda: second.append(reconcile(site.controller, key))
    site.kube.requests.clear()
    assert reconcile(site.controller, key).result == "success"
    assert [outcome.result for outcome in second] == ["busy"]
    assert site.kube.requests.count(method="PATCH") == 2  # namespace and ConfigMap, each written once


def test_a_cluster_at_its_limit_retries_the_object_later_without_doing_work(site):
    with override_settings(EDGE_CONTROLLER_CONCURRENCY={"cluster": 1}, EDGE_CONTROLLER_BUSY_DELAY=7):
        slot = limits.acquire("cluster", "edge", "another-reconcile", 300)
        assert slot and limits.acquire("cluster", "edge", "a-third", 300) is None
        site.kube.requests.clear()
        outcome = reconcile(site.controller, workspace().pk)
        assert outcome.result == "busy" and outcome.retry_in == 7
        assert site.kube.requests.count_writes() == 0 and "conditions" not in workspace().status
        limits.release(slot, "another-reconcile")
        assert reconcile(site.controller, workspace().pk).result == "success"


def test_a_permanent_error_waits_for_a_spec_change(site, now):
    site.kube.fail_next(1, status=422)
    assert reconcile(site.controller, workspace().pk).result == "permanent"
    status = workspace().status
    assert status["reason"] == "Invalid" and ready(workspace())["status"] == "False"
    assert "nextRetryTime" not in status
    # no retry, however long one waits, while the spec stays
    now.advance(7 * 24 * 3600)
    assert due(site.controller) == []
    site.kube.requests.clear()
    assert reconcile(site.controller, workspace().pk).result == "skipped"
    assert site.kube.requests.count() == 0
    # WHEN the spec changes, its generation moves, and the object is reconciled again
    site.platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Workspace",
                         "metadata": {"name": "w1", "labels": {"scope.theriseunion.io/cluster": "edge"}},
                         "spec": {"displayName": "Line 1"}})
    assert workspace().generation == 2 and due(site.controller) == [str(workspace().pk)]
    assert reconcile(site.controller, workspace().pk).result == "success"
    assert configmap(site)["data"] == {"displayName": "Line 1"}
    assert workspace().status["observedGeneration"] == 2


def test_beat_finds_what_lags_and_what_is_stale(site, now):
    site.platform.workspace("w2", "edge")
    assert sorted(due(site.controller)) == sorted(str(w.pk) for w in Workspace.objects.all())
    for row in Workspace.objects.all():
        reconcile(site.controller, row.pk)
    assert due(site.controller) == []
    # a spec change: its generation is ahead of the one observed
    site.platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Workspace",
                         "metadata": {"name": "w2", "labels": {"scope.theriseunion.io/cluster": "edge"}},
                         "spec": {"displayName": "Two"}})
    assert due(site.controller) == [str(workspace("w2").pk)]
    reconcile(site.controller, workspace("w2").pk)
    # the period passes: everything is reconciled again
    now.advance(601)
    assert len(due(site.controller)) == 2


def test_a_temporary_error_may_ask_for_its_own_delay(site):
    class Waits(ConfigMaps):
        def ensure_namespace(self, workspace, run):
            raise TemporaryError("the chart repository is syncing", delay=42, reason="Syncing")

    outcome = reconcile(Waits(), workspace().pk)
    assert outcome.retry_in == 42
    assert workspace().status["reason"] == "Syncing" and workspace().status["message"] == \
        "the chart repository is syncing"


def test_backoff_is_exponential_jittered_and_capped():
    import random

    rng = random.Random(1)
    waits = [backoff.delay(n, base=2, cap=100, rng=rng) for n in range(12)]
    for n, wait in enumerate(waits):
        ceiling = min(100, 2 * 2 ** n)
        assert ceiling / 2 <= wait <= ceiling
    assert len(set(waits[-5:])) == 5  # jittered, not all at the cap at once


def test_a_busy_task_queues_itself_again_and_frees_the_worker(site, monkeypatch):
    from edgeplatform.controllers.tasks import task_for

    task = task_for(site.controller)
    queued = []
    monkeypatch.setattr(task, "apply_async", lambda **kwargs: queued.append(kwargs))
    key = workspace().pk
    assert leases.acquire(lease_key(site.controller, key), "another-worker", 300)
    with override_settings(EDGE_CONTROLLER_BUSY_DELAY=9):
        assert task.run(key) is None  # returns at once: the worker slot is free for other work
    assert queued == [{"args": (key,), "kwargs": {}, "countdown": 9}]
    # a wait longer than a countdown should be is left to beat (the retry time is recorded)
    queued.clear()
    leases.release(lease_key(site.controller, key), "another-worker")
    site.kube.fail_next(1, status=503)
    with override_settings(EDGE_CONTROLLER_BACKOFF=10_000, EDGE_CONTROLLER_BACKOFF_MAX=10_000):
        task.run(key)
    assert queued == [] and workspace().status["nextRetryTime"]
