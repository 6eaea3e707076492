"""When a component changes, queue its reconcile after the commit; when one turns Ready, queue its dependents.

Listens to the write path's ``object_saved`` (every surface's writes, the CRD sync's included). A spec, metadata
or deletion change queues the component; a status write queues nothing for the component itself (the controller
wrote it), but a phase that becomes ``Ready`` queues the components of the same cluster that depend on it, so a
chain installs without waiting for beat. A broker outage after the commit is logged; beat's ``requeue`` finds
what lags (``edgeplatform.controllers.tasks.due``).
"""
from __future__ import annotations

import logging

from django.db import transaction

from edgeplatform.resources.services import object_saved

__all__ = ["connect"]

log = logging.getLogger(__name__)


def _enqueue(keys: list) -> None:
    from components.controller import CONTROLLER
    from edgeplatform.controllers.tasks import enqueue

    for key in keys:
        try:
            enqueue(CONTROLLER, key)
        except Exception:  # the broker is down: the write is committed; beat queues it later
            log.exception("could not queue the reconcile of component %s", key)
            return


def _on_saved(sender, *, obj, before=None, after=None, status_only=False, **kwargs) -> None:
    from components.dependencies import dependents_of
    from components.models import Component
    from components.status import READY

    if not isinstance(obj, Component):
        return
    if not status_only:
        key = obj.pk
        transaction.on_commit(lambda: _enqueue([key]))
        return
    was = ((before or {}).get("status") or {}).get("phase")
    now = ((after or {}).get("status") or {}).get("phase")
    if now == READY and was != READY:
        siblings = list(Component.objects.filter(cluster_id=obj.cluster_id).exclude(phase=READY))
        waiting = set(dependents_of(obj.name, [*siblings, obj]))
        keys = [component.pk for component in siblings if component.name in waiting]
        if keys:
            transaction.on_commit(lambda: _enqueue(keys))


def connect() -> None:
    """Listen to the write path (idempotent)."""
    object_saved.connect(_on_saved, dispatch_uid="components-enqueue")
