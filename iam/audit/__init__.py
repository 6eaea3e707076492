"""The audit log: one hash-chained event per mutation, denied request and security event.

Public hooks for code that changes state outside ``services.save_manifest``/``delete_object``:
:func:`record` (write one event in the caller's transaction) and :func:`actor` (run a block as
``system:<what>``).
"""

__all__ = ["actor", "record"]


def record(verb: str, **kwargs):
    """Record one event (see :func:`iam.audit.recorder.record`)."""
    from iam.audit.recorder import record as _record

    return _record(verb, **kwargs)


def actor(name: str, request_id: str | None = None):
    """A context manager running a block as ``name`` (see :func:`iam.audit.context.actor`)."""
    from iam.audit.context import actor as _actor

    return _actor(name, request_id)
