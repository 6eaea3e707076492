"""Per-cluster concurrency: at most N reconciles of one sort (cluster, application, component) run on one member
cluster at once (``EDGE_CONTROLLER_CONCURRENCY``).

A limit of N is N slot leases per cluster and sort; a reconcile takes a free slot or none. With none free the
object is retried a moment later by a new message (no worker slot is held waiting), and a worker that dies in a
slot frees it when the lease expires.
"""
from __future__ import annotations

from django.conf import settings

from edgeplatform.controllers import leases

__all__ = ["acquire", "limit_of", "release"]


def limit_of(sort: str) -> int:
    """How many reconciles of ``sort`` may run on one cluster at once (0: no limit)."""
    return int(settings.EDGE_CONTROLLER_CONCURRENCY.get(sort, 0))


def _slot(sort: str, cluster: str, index: int) -> str:
    return f"slot:{sort}:{cluster}:{index}"


def acquire(sort: str, cluster: str, owner: str, seconds: float) -> str | None:
    """Take a free slot of ``sort`` on ``cluster``; its key, or None when all are taken."""
    for index in range(limit_of(sort)):
        key = _slot(sort, cluster, index)
        if leases.acquire(key, owner, seconds):
            return key
    return None


def release(key: str | None, owner: str) -> None:
    """Free a slot taken with :func:`acquire` (nothing for None)."""
    if key is not None:
        leases.release(key, owner)
