"""Who is acting, from where: set once per HTTP request, Celery task or ``actor()`` block, read by the recorder.

The context lives in a :class:`contextvars.ContextVar`, so nested contexts (a task run eagerly inside a
request) stack and unwind cleanly. It also carries a denial that the write path noted but could not record
itself: the denied write's transaction is rolled back, so the context's owner records it once at the end.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, field

from edgeplatform.serving import requestid
from edgeplatform.serving.requestid import new_request_id

__all__ = ["AuditContext", "actor", "current", "new_request_id", "username_of"]

_current: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar("edge_audit_context", default=None)


def username_of(user) -> str:
    """The audit name of a user object: its user name, or ``anonymous``."""
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    return user.get_username()


@dataclass
class AuditContext:
    """The who and where of the work in progress.

    ``request`` (an HttpRequest) supplies the actor lazily, because API authentication happens inside
    the view, after the middleware set the context. ``actor_name`` is used when there is no request.
    """

    request_id: str = field(default_factory=new_request_id)
    actor_name: str = "system"
    source_ip: str = ""
    user_agent: str = ""
    request: object = None
    path: str = ""
    #: the first denial the write path noted (kwargs for ``record``), written by the context's owner
    pending_denial: dict | None = None
    #: a denied/failed event was already written for this request (login_failed, a flushed denial)
    denial_recorded: bool = False

    @property
    def actor(self) -> str:
        """The acting user's name, ``anonymous``, or the system actor of this context."""
        if self.request is not None:
            return username_of(getattr(self.request, "user", None))
        return self.actor_name

    def note_denial(self, **event) -> None:
        """Remember a denial to be recorded when this context ends (only the first one counts)."""
        if self.pending_denial is None and not self.denial_recorded:
            self.pending_denial = event


def current() -> AuditContext | None:
    """The context of the work in progress, or None (a shell, a migration)."""
    return _current.get()


def push(context: AuditContext) -> tuple:
    """Make ``context`` current (and its request id the one logs carry); give the token to :func:`pop`."""
    return _current.set(context), requestid.bind(context.request_id)


def pop(token: tuple) -> None:
    """Restore the context that was current before :func:`push`."""
    context_token, id_token = token
    requestid.unbind(id_token)
    _current.reset(context_token)


@contextmanager
def actor(name: str, request_id: str | None = None):
    """Run a block as ``name`` (e.g. ``system:kubewatch``): events it causes name that actor.

    A denial noted inside the block is recorded when the block ends.
    """
    from iam.audit.recorder import flush_denial

    context = AuditContext(request_id=request_id or new_request_id(), actor_name=name)
    token = push(context)
    try:
        yield context
    finally:
        pop(token)
        flush_denial(context)
