"""The native RBAC translation as a controller on the base (``edgeplatform.controllers``).

One reconcile per member cluster: its single step, ``ensure_rbac``, makes the cluster's platform-made RBAC
objects the translation of its bindings (or, queued with ``binding=<name>``, only those of one binding). It runs
as ``system:rbac-sync``; the cluster's lease makes one worker at a time work on a cluster, and the per-cluster
limit ``EDGE_CONTROLLER_CONCURRENCY["cluster"]`` applies. A write that failed makes the attempt a temporary
error (retried with backoff; the next run picks up what is left). The outcome shows on the Cluster as the
condition ``RBACSynced`` (the Cluster's ``Ready`` and phase are its own controller's); beat reconciles every
cluster again ``EDGE_CONTROLLER_RBAC_PERIOD`` seconds after its last success, which catches drift and lost
messages.
"""
from __future__ import annotations

import logging

from clusters.models import Cluster
from edgeplatform.controllers.base import Controller, register
from edgeplatform.controllers.errors import TemporaryError
from edgeplatform.controllers.tasks import task_for
from iam.native_rbac.reconcile import reconcile_binding, reconcile_cluster

__all__ = ["ACTOR", "CONTROLLER", "RECONCILE_BINDING", "RECONCILE_CLUSTER", "RBACController",
           "reconcile_binding_task", "reconcile_cluster_task"]

log = logging.getLogger(__name__)

ACTOR = "system:rbac-sync"
RECONCILE_CLUSTER = "iam.native_rbac.reconcile_cluster"
RECONCILE_BINDING = "iam.native_rbac.reconcile_binding"


@register
class RBACController(Controller):
    """Member-cluster RBAC objects from the platform's grants, one cluster per reconcile."""

    name = "rbac-sync"
    model = Cluster
    steps = ("ensure_rbac",)
    queue = "sync"
    sort = "cluster"
    condition = "RBACSynced"

    period_setting = "EDGE_CONTROLLER_RBAC_PERIOD"

    def cluster_of(self, obj) -> str:
        """The cluster is the object."""
        return obj.name

    def ensure_rbac(self, cluster, run) -> None:
        """Converge the cluster's RBAC objects (all, or those of ``run.options["binding"]``)."""
        binding = run.options.get("binding")
        result = reconcile_cluster(cluster) if binding is None else reconcile_binding(cluster, binding)
        if result.errors:
            raise TemporaryError(f"{len(result.errors)} write(s) failed on {cluster.name}: "
                                 + "; ".join(result.errors[:3]), reason="Incomplete")
        if result.skipped:
            run.reason, run.message = "NoConnection", result.skipped
        run.result = {"cluster": cluster.name, "skipped": result.skipped, "applied": len(result.applied),
                      "deleted": len(result.deleted), "unchanged": result.unchanged,
                      "missingNamespaces": result.missing_namespaces}


CONTROLLER = RBACController
#: every platform-made RBAC object of one cluster: ``reconcile_cluster_task.delay(cluster_id)``
reconcile_cluster_task = task_for(CONTROLLER, RECONCILE_CLUSTER)
#: the objects of one binding (removed when the binding is gone), on the same lease:
#: ``reconcile_binding_task.delay(cluster_id, binding=name)``
reconcile_binding_task = task_for(CONTROLLER, RECONCILE_BINDING)
