"""Writing audit events: the public :func:`record`, and what the write path and the request owners call."""
from __future__ import annotations

import logging

from django.db import connection

from iam.audit import chain
from iam.audit.context import AuditContext, current, username_of
from iam.audit.redaction import redact, stored_secrets, with_secrets

__all__ = ["RESULTS", "STORED_BEFORE", "VERBS", "flush_denial", "note_denial", "record", "record_write"]

log = logging.getLogger(__name__)

#: Verbs an event may carry: Kubernetes' (for mutations and denied requests) and the security events.
VERBS = ("create", "update", "patch", "delete", "deletecollection", "get", "list", "watch",
         "login", "login_failed", "logout", "lockout", "unlock", "token_issue", "token_revoke", "prune")
RESULTS = ("allowed", "denied", "error")
_DEFAULT_CODE = {"allowed": 200, "denied": 403, "error": 500}
_table_ready = False
#: Attribute under which :func:`iam.audit.receivers.remember_stored_secrets` leaves, on a row about to be saved,
#: the secret columns it held in the database (see :data:`iam.audit.redaction.STORED_SECRETS`).
STORED_BEFORE = "_audit_stored_secrets"


def _ready() -> bool:
    """Is the audit table there? (Not yet while earlier migrations write built-ins on a fresh database.)"""
    global _table_ready
    if not _table_ready:
        _table_ready = "audit_auditevent" in connection.introspection.table_names()
    return _table_ready


def record(verb: str, *, resource: str = "", group: str = "", kind: str = "", name: str = "",
           scope_path: str = "", result: str = "allowed", status_code: int | None = None, message: str = "",
           before: dict | None = None, after: dict | None = None, actor: str | None = None, request=None,
           seal_now: bool = False):
    """Record one event; who and where come from the current context (or ``request``), the rest from the call.

    Runs in the caller's transaction: if that rolls back, so does the event; once it commits, the event is
    sealed into the hash chain. ``before``/``after`` are manifests and are redacted here, ``after`` against
    ``before``: a secret that differs reads ``<redacted: changed>``. ``actor``
    overrides the context's (a user name or ``system:<what>``). ``seal_now``: the caller's transaction
    commits right after this call (see :func:`iam.audit.chain.insert`).

    Returns the event, or None while the audit table does not exist yet.
    """
    if not _ready():
        return None
    context = current()
    source = context if context is not None else _context_of(request)
    event = chain.insert(
        actor=_storable(actor or (source.actor if source else "system"), 253),
        source_ip=_storable(source.source_ip if source else "", 64),
        user_agent=_storable(source.user_agent if source else "", 512),
        request_id=source.request_id if source else "", path=_storable(source.path if source else "", 1024),
        verb=verb, api_group=_storable(group, 253), resource=_storable(resource, 63), kind=_storable(kind, 63),
        name=_storable(name or "", 253), scope_path=_storable(scope_path or "", 600), result=result,
        status_code=status_code or _DEFAULT_CODE.get(result, 200), message=_storable(message or ""),
        before=redact(before) if before is not None else None,
        after=None if after is None else redact(after) if before is None else redact(after, before),
        seal_now=seal_now,
    )
    if result != "allowed" and context is not None:
        context.denial_recorded = True
    return event


def _storable(text: str, limit: int | None = None) -> str:
    """Text a request may have supplied (its path, user agent, names from its URL) as its column can hold it: cut
    to the column's length, each NUL shown as U+FFFD. A refused request for ``/lockouts/%00`` or for a name of
    a thousand characters is recorded like any other (PostgreSQL refuses NUL and overlong values)."""
    return text[:limit].replace("\x00", "\ufffd")


def _context_of(request) -> AuditContext | None:
    if request is None:
        return None
    from iam.audit.middleware import context_for_request

    return context_for_request(request)


def record_write(verb: str, converter, obj, *, before=None, after=None, user=None):
    """One mutation through the write path (``services.save_manifest``/``delete_object``).

    Secrets the manifests leave out (a password hash, a cluster's credentials) are put back at their paths,
    from the row now and from the database row before the save, so that :func:`record` masks them and marks
    the ones the write changed.
    """
    before, after = _with_stored_secrets(verb, obj, before, after)
    context = current()
    if verb == "update" and context is not None and getattr(context.request, "method", "") == "PATCH":
        verb = "patch"
    # The write path sends its signal as the last step of its transaction; when that transaction is the
    # outermost one, it commits right after, and the event can be sealed in place.
    outermost = len(connection.atomic_blocks) == 1
    return record(verb, resource=converter.plural, group=converter.group, kind=converter.kind, name=obj.name,
                  scope_path=obj.scope_path, status_code=201 if verb == "create" else 200, before=before,
                  after=after, actor=username_of(user) if user is not None else None, seal_now=outermost)


def _with_stored_secrets(verb: str, obj, before, after):
    model = type(obj)
    now = stored_secrets(model, obj.__dict__)
    if verb == "delete":
        return with_secrets(before, now), after
    stored = obj.__dict__.pop(STORED_BEFORE, None)
    if before is None:  # a create: whatever is stored now was set by it
        return before, with_secrets(after, now)
    if stored is None:  # the row's earlier secrets were not seen: claim no change either way
        return before, after
    return with_secrets(before, stored_secrets(model, stored)), with_secrets(after, now)


def note_denial(*, verb: str, converter, user, path: str, name: str, error) -> None:
    """The engine refused a write: record it once, outside the write's rolled-back transaction.

    Inside a request, task or ``actor()`` block the context's owner records it when it ends (a view may
    still turn the refusal into a form error); elsewhere it is recorded now.
    """
    event = {"verb": verb, "resource": converter.plural, "group": converter.group, "kind": converter.kind,
             "name": name, "scope_path": path, "result": "denied", "status_code": error.status_code,
             "message": error.message, "actor": username_of(user) if user is not None else None}
    context = current()
    if context is not None:
        context.note_denial(**event)
    else:
        record(**event)


def flush_denial(context: AuditContext) -> None:
    """Record the denial a finished context noted, unless one was recorded already."""
    if context.pending_denial is None or context.denial_recorded:
        return
    event, context.pending_denial = context.pending_denial, None
    try:
        from iam.audit.context import pop, push

        token = push(context)
        try:
            record(**event)
        finally:
            pop(token)
    except Exception:  # a refused request must stay refused, not become a 500, if the log cannot be written
        log.exception("could not record a denied request")
