"""Celery tasks that translate the platform's grants into member-cluster RBAC.

Tasks receive ids, re-read the rows and are safe to run twice (the reconcile is level-based). They run as the
audit actor ``system:rbac-sync``; one cluster is reconciled by one worker at a time (a short cache lock; a
second task for the same cluster retries a moment later). Beat runs ``reconcile_all`` to catch drift and lost
messages.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

from celery import shared_task
from django.core.cache import cache

from edgeplatform.kube import KubeError
from iam.audit import actor

log = logging.getLogger(__name__)

ACTOR = "system:rbac-sync"
RECONCILE_CLUSTER = "iam.native_rbac.reconcile_cluster"
RECONCILE_BINDING = "iam.native_rbac.reconcile_binding"
RECONCILE_ALL = "iam.native_rbac.reconcile_all"
LOCK_SECONDS = 300
_RETRY = {"acks_late": True, "bind": True, "autoretry_for": (KubeError,), "retry_backoff": 5,
          "retry_backoff_max": 300, "max_retries": 10}


class ReconcileIncomplete(KubeError):
    """Some writes of a reconcile failed; the task retries (the next run picks up what is left)."""


@contextmanager
def _cluster_lock(cluster_id: int):
    key = f"iam:native-rbac:lock:{cluster_id}"
    got = cache.add(key, 1, timeout=LOCK_SECONDS)
    try:
        yield got
    finally:
        if got:
            cache.delete(key)


def _run(task, cluster_id: int, binding_name: str | None) -> dict | None:
    from clusters.models import Cluster
    from iam.native_rbac.reconcile import reconcile_binding, reconcile_cluster

    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return None
    with actor(ACTOR), _cluster_lock(cluster_id) as locked:
        if not locked:
            raise task.retry(countdown=5)
        result = reconcile_cluster(cluster) if binding_name is None else reconcile_binding(cluster, binding_name)
    if result.errors:
        raise ReconcileIncomplete(0, "Incomplete", f"{len(result.errors)} write(s) failed on {cluster.name}: "
                                                   + "; ".join(result.errors[:3]))
    return {"cluster": cluster.name, "skipped": result.skipped, "applied": len(result.applied),
            "deleted": len(result.deleted), "unchanged": result.unchanged,
            "missingNamespaces": result.missing_namespaces}


@shared_task(name=RECONCILE_CLUSTER, **_RETRY)
def reconcile_cluster_task(self, cluster_id: int) -> dict | None:
    """Reconcile every platform-made RBAC object of one cluster."""
    return _run(self, cluster_id, None)


@shared_task(name=RECONCILE_BINDING, **_RETRY)
def reconcile_binding_task(self, cluster_id: int, binding_name: str) -> dict | None:
    """Reconcile the objects of one binding (removing them when the binding is gone)."""
    return _run(self, cluster_id, binding_name)


@shared_task(name=RECONCILE_ALL, acks_late=True)
def reconcile_all() -> int:
    """Beat: queue a full reconcile of every cluster; return how many were queued."""
    from clusters.models import Cluster

    ids = list(Cluster.objects.values_list("pk", flat=True))
    for cluster_id in ids:
        reconcile_cluster_task.delay(cluster_id)
    return len(ids)
