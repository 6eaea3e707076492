"""A cluster written through the write path is checked right after the commit (its connection may have
changed). Status writes queue nothing: the controller wrote them. A broker outage is logged; beat's ``requeue``
checks the cluster at its next period."""
from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

from edgeplatform.resources.services import object_saved

__all__ = ["connect", "node_decommissioned"]

#: sent with ``node`` (the Node row, before it is deleted) and ``actor`` once a decommissioned node has been drained
#: and removed from its member cluster; what else was bound to the node (join credentials, grants) follows it
node_decommissioned = Signal()

log = logging.getLogger(__name__)


def _enqueue(key) -> None:
    from clusters.controller import CONTROLLER
    from edgeplatform.controllers.tasks import enqueue

    try:
        enqueue(CONTROLLER, key)
    except Exception:  # the write is committed; beat checks the cluster later
        log.exception("could not queue the health check of cluster %s", key)


def _on_saved(sender, *, obj, status_only=False, **kwargs) -> None:
    from clusters.models import Cluster

    if isinstance(obj, Cluster) and not status_only:
        key = obj.pk
        transaction.on_commit(lambda: _enqueue(key))


def connect() -> None:
    """Listen to the write path (idempotent)."""
    object_saved.connect(_on_saved, dispatch_uid="clusters-health-enqueue")
