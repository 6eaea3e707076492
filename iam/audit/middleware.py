"""Sets the audit context of each HTTP request and records the request's denial, once, when it ends."""
from __future__ import annotations

import logging
import re

from django.conf import settings

from edgeplatform.serving.requestid import request_id_of
from iam.audit.context import AuditContext, pop, push

__all__ = ["AuditContextMiddleware", "context_for_request"]

log = logging.getLogger(__name__)

API_PATH = re.compile(r"^/oapis/(?P<group>[^/]+)/(?P<version>[^/]+)/(?:clusters/(?P<cluster>[^/]+)/)?"
                      r"(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?/?$")
METHOD_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}
DENIED = (401, 403)


def client_address(request) -> str:
    """The client's address; the first ``X-Forwarded-For`` hop only behind a trusted proxy."""
    if settings.SECURE_PROXY_SSL_HEADER and request.META.get("HTTP_X_FORWARDED_FOR"):
        return request.META["HTTP_X_FORWARDED_FOR"].split(",")[0].strip()[:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


def context_for_request(request) -> AuditContext:
    """The audit context of an HTTP request, under the request's id (``edgeplatform.serving.requestid``)."""
    return AuditContext(request_id=request_id_of(request),
                        source_ip=client_address(request), user_agent=request.headers.get("User-Agent", "")[:512],
                        request=request, path=request.path[:1024])


class AuditContextMiddleware:
    """Put the request's who and where in the audit context (``X-Request-ID`` is answered by
    ``edgeplatform.serving.requestid``, which gave the request its id).

    At the end of the request it records one ``denied`` event when the request was refused: a denial the
    write path noted (even if the view turned it into a form error), else a 401/403 answer, else a 404 that
    hides an object which exists but which the caller may not see. The verb, kind and object come from the
    API path, or from what a console view noted on the request (``edgeplatform.console.denials``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        context = context_for_request(request)
        request.request_id = context.request_id
        token = push(context)
        try:
            response = self.get_response(request)
            try:
                self.record_denial(request, response, context)
            except Exception:  # the answer stands even when the log cannot be written; the error is logged
                log.exception("could not record a denied request")
        finally:
            pop(token)
        return response

    def record_denial(self, request, response, context: AuditContext) -> None:
        """Record this request's denial, if it had one and none was recorded yet."""
        from iam.audit.recorder import flush_denial, record

        if context.denial_recorded:
            return
        if context.pending_denial is not None:
            flush_denial(context)
            return
        code = response.status_code
        if code not in DENIED and not (code == 404 and self.hides_object(request)):
            return
        error = getattr(request, "status_error", None)
        record(self.verb(request), **self.resource(request), result="denied", status_code=code,
               message=getattr(error, "message", "") or getattr(response, "reason_phrase", ""))

    @staticmethod
    def verb(request) -> str:
        """The Kubernetes verb of a request (``list``/``deletecollection`` on collections)."""
        noted = _noted(request)
        if noted is not None:
            return noted["verb"]
        match = API_PATH.match(request.path)
        collection = match is not None and not match["name"]
        verb = METHOD_VERBS.get(request.method, request.method.lower())
        if collection and verb == "get":
            return "list"
        if collection and verb == "delete":
            return "deletecollection"
        return verb

    @staticmethod
    def resource(request) -> dict:
        """group, resource, kind and name from an API path or a console view's note (empty for other paths)."""
        noted = _noted(request)
        if noted is not None:
            return {key: noted.get(key, "") for key in ("group", "resource", "kind", "name", "scope_path")}
        match = API_PATH.match(request.path)
        if match is None:
            return {}
        converter = _converter(match)
        group = converter.group if converter is not None else match["group"]
        return {"group": group, "resource": match["plural"], "kind": converter.kind if converter else "",
                "name": match["name"] or ""}

    @staticmethod
    def hides_object(request) -> bool:
        """Was this 404 about an object that exists but is invisible to the caller?"""
        noted = _noted(request)
        if noted is not None:
            return bool(noted.get("hides_object")) and getattr(request.user, "is_authenticated", False)
        error = getattr(request, "status_error", None)
        user = getattr(request, "user", None)
        match = API_PATH.match(request.path)
        if error is None or match is None or not match["name"] or not getattr(user, "is_authenticated", False):
            return False
        converter = _converter(match)
        if converter is None:
            return False
        rows = converter.model.objects.filter(name=match["name"])
        if converter.cluster_child:
            rows = rows.filter(cluster__name=match["cluster"])
        return rows.exists()


def _noted(request) -> dict | None:
    """What a console view said the request is about (``edgeplatform.console.denials``), if it did."""
    noted = getattr(request, "audit_resource", None)
    return noted if isinstance(noted, dict) and noted.get("verb") else None


def _converter(match):
    from edgeplatform.resources.converters import registered

    for converter in registered():
        if converter.plural != match["plural"]:
            continue
        if converter.cluster_child and match["cluster"]:
            return converter
        if not converter.cluster_child and converter.group == match["group"] and not match["cluster"]:
            return converter
    return None
