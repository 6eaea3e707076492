"""Beat task of the audit log: retention."""
from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

PRUNE = "iam.audit.tasks.prune"


@shared_task(name=PRUNE, acks_late=True)
def prune(days: int | None = None) -> int:
    """Delete events older than ``EDGE_AUDIT_RETENTION_DAYS`` (or ``days``); the pruning is itself audited.

    Safe to run twice: the second run finds nothing old enough. Returns how many events were deleted.
    """
    from iam.audit.context import actor, current
    from iam.audit.retention import prune_older_than

    days = settings.EDGE_AUDIT_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    if current() is not None:  # run by a worker: the task context names the actor
        return prune_older_than(cutoff)
    with actor(f"system:{PRUNE}"):
        return prune_older_than(cutoff)
