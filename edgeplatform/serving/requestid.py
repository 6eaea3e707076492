"""Every request has an id: the client's ``X-Request-ID`` when it is a sane token, else a new one.

:class:`RequestIDMiddleware` (first in ``MIDDLEWARE``) sets it on the request (``request.request_id``), in a
context variable that the log filter (:mod:`edgeplatform.serving.logs`) puts on every record logged while the
request runs, and on the response (``X-Request-ID``). When the request ends it writes one access-log record
(logger ``edgeplatform.access``: method, path, status, duration, client, bytes), so a request's access line and
everything logged for it share the id. Background work binds an id of its own with :func:`bind` (the audit
context does, for tasks).
"""
from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid

from django.conf import settings

__all__ = ["REQUEST_ID", "RequestIDMiddleware", "bind", "current", "new_request_id", "request_id_of", "unbind"]

REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("edge_request_id", default="")
access_log = logging.getLogger("edgeplatform.access")


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


def current() -> str:
    """The id of the request (or background work) in progress; empty outside any."""
    return _current.get()


def request_id_of(request) -> str:
    """The id of an HTTP request: the one the middleware gave it, else the client's, else a new one."""
    given = getattr(request, "request_id", "")
    if given:
        return given
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if REQUEST_ID.match(incoming) else new_request_id()


def bind(request_id: str) -> contextvars.Token:
    """Log what follows with ``request_id`` (a Celery task, an audit actor block); give the token to
    :func:`unbind`."""
    return _current.set(request_id)


def unbind(token: contextvars.Token) -> None:
    """Restore the id that was current before :func:`bind`."""
    _current.reset(token)


class RequestIDMiddleware:
    """Give the request its id, log under it, answer it in ``X-Request-ID``, write the access-log record."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.access = settings.EDGE_ACCESS_LOG

    def __call__(self, request):
        started = time.perf_counter()
        request.request_id = request_id_of(request)
        token = bind(request.request_id)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request.request_id
            if self.access:
                self.log(request, response, time.perf_counter() - started)
        finally:
            unbind(token)
        return response

    @staticmethod
    def log(request, response, seconds: float) -> None:
        """One access-log record for the request (the JSON formatter turns its ``extra`` into fields)."""
        user = getattr(request, "user", None)
        size = len(response.content) if not response.streaming else None
        access_log.info("%s %s %s", request.method, request.path, response.status_code, extra={
            "http_method": request.method, "path": request.path[:1024], "status": response.status_code,
            "duration_ms": round(seconds * 1000, 3), "client": request.META.get("REMOTE_ADDR", ""),
            "user": user.get_username() if getattr(user, "is_authenticated", False) else "",
            "bytes": size, "user_agent": request.headers.get("User-Agent", "")[:256]})
