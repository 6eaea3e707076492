"""The seam between shared code and the audit log.

Shared code (the Kubernetes sync, for one) must run its writes as a named system actor and record
events the write path does not see; the iam app's audit log plugs in at start-up. Apps depend on
``edgeplatform``, never the reverse, so the audit log is registered rather than imported. With none
registered, acting is a no-op and nothing is recorded.
"""
from __future__ import annotations

import contextlib
from typing import Protocol

__all__ = ["AuditLog", "actor", "record", "register"]


class AuditLog(Protocol):
    """What the rest of the platform needs from the audit log."""

    def actor(self, name: str):
        """A context manager running a block as ``name`` (``system:<what>``)."""

    def record(self, verb: str, **fields):
        """Record one event in the caller's transaction."""


_log: AuditLog | None = None


def register(audit_log: AuditLog) -> None:
    """Install the audit log (done by the audit app's ``ready()``)."""
    global _log
    _log = audit_log


def actor(name: str):
    """Run a block as ``name`` in the audit log (a no-op without one)."""
    return _log.actor(name) if _log is not None else contextlib.nullcontext()


def record(verb: str, **fields):
    """Record one event (nothing without an audit log)."""
    return _log.record(verb, **fields) if _log is not None else None
