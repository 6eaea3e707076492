"""Celery tasks of components: the reconcile of one component and the per-cluster release sweep
(``components.controller``), both on the ``components`` queue; beat's ``edgeplatform.controllers.requeue`` queues
what is due."""
from __future__ import annotations

from components.controller import CONTROLLER, SWEEP
from edgeplatform.controllers.tasks import task_for

__all__ = ["reconcile_component", "sweep_releases"]

#: ``reconcile_component.delay(component.pk)``
reconcile_component = task_for(CONTROLLER, "components.reconcile")
#: ``sweep_releases.delay(cluster.pk)``: one LIST of the cluster's Helm releases, drifted components queued
sweep_releases = task_for(SWEEP, "components.sweep_releases")
