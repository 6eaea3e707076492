"""Retention: dropping old events while keeping the rest of the chain verifiable."""
from __future__ import annotations

from django.db import transaction

from iam.audit import chain
from iam.audit.recorder import record


def prune_older_than(cutoff) -> int:
    """Delete events older than ``cutoff`` and record that it happened, in one transaction."""
    with transaction.atomic():
        deleted, anchor = chain.prune_before(cutoff)
        if deleted:
            record("prune", resource="auditevents", group="iam.theriseunion.io", kind="AuditEvent",
                   message=f"deleted {deleted} events older than {cutoff:%Y-%m-%dT%H:%M:%SZ}; "
                           f"the chain now starts after #{anchor}")
    return deleted
