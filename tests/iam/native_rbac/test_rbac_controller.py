"""The native RBAC translation on the controller base: its state as the Cluster's ``RBACSynced`` condition, its
retries, and beat bringing every cluster up to date.

GIVEN a member cluster on an emulated API server and a binding at its level, WHEN the controller's task runs (and
the API server fails a write), THEN the Cluster's status says so in a condition of its own, the Cluster's
generation and other conditions stay, and beat's re-enqueue reconciles what is due.
"""
from __future__ import annotations

import pytest
from django.test import override_settings

from clusters.models import Cluster
from edgeplatform.controllers.models import ControllerState
from edgeplatform.controllers.tasks import due, requeue
from iam.audit.models import AuditEvent
from iam.native_rbac import tasks
from tests.fleet import role_manifest

READER = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]


@pytest.fixture
def edge(kube_clusters, platform):
    (emulator,) = kube_clusters(1)
    platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "edge"},
                    "spec": {"type": "physical", "connection": {"kubernetesAPIEndpoint": emulator.url}}})
    platform.apply(role_manifest("reader", "cluster", READER))
    platform.bind("readers", "reader", "cluster", "edge", users=("alice",))
    with override_settings(EDGE_KUBE_RETRIES=0):
        yield emulator


def synced(cluster) -> dict:
    return next(c for c in Cluster.objects.get(pk=cluster.pk).status["conditions"] if c["type"] == "RBACSynced")


def test_a_reconcile_shows_as_the_rbac_synced_condition(edge):
    cluster = Cluster.objects.get(name="edge")
    summary = tasks.reconcile_cluster_task.apply(args=[cluster.pk]).get()
    assert summary["applied"] == 2
    after = Cluster.objects.get(pk=cluster.pk)
    assert synced(cluster)["status"] == "True" and synced(cluster)["reason"] == "Reconciled"
    # only its own condition: the Cluster's Ready, phase and observedGeneration are its own controller's
    assert [c["type"] for c in after.status["conditions"]] == ["RBACSynced"]
    assert "observedGeneration" not in after.status and after.generation == cluster.generation
    assert AuditEvent.objects.filter(actor="system:rbac-sync", name="edge", kind="Cluster").count() == 1


def test_a_failed_write_is_retried_and_shows_in_the_condition(edge):
    cluster = Cluster.objects.get(name="edge")
    edge.fail_next(1, status=503, path_contains="clusterrolebindings", method="PATCH")
    assert tasks.reconcile_cluster_task.apply(args=[cluster.pk]).get() is None
    condition = synced(cluster)
    assert condition["status"] == "False" and condition["reason"] == "Incomplete"
    assert "1 write(s) failed on edge" in condition["message"]
    state = ControllerState.objects.get(controller="rbac-sync", key=str(cluster.pk))
    assert state.retry_count == 1 and state.next_retry is not None
    # the next attempt finishes the work and flips the condition back
    assert tasks.reconcile_cluster_task.apply(args=[cluster.pk]).get()["applied"] == 1
    assert synced(cluster)["status"] == "True"


def test_beat_reconciles_every_cluster_that_is_due(edge, eager_celery, platform):
    platform.cluster("bare")  # no connection: skipped, and said so
    controller = tasks.CONTROLLER
    assert len(due(controller)) == 2
    assert requeue.apply().get()["rbac-sync"] == 2
    assert {binding["metadata"]["name"] for binding in edge.objects("clusterrolebindings")
            if binding["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by")} == {"edge:binding:readers"}
    assert synced(Cluster.objects.get(name="bare"))["reason"] == "NoConnection"
    assert due(controller) == [] and requeue.apply().get()["rbac-sync"] == 0
