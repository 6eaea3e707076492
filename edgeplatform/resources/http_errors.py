"""Errors outside the views, in the API's own words: under ``/oapis/`` a Kubernetes ``Status``, under ``/oauth/``
an RFC 6749 error object, never Django's HTML pages or a stack trace.

DRF's exception handler (``errors.status_exception_handler``) shapes what views raise. What happens before a view
runs or outside one — a body over the size limit, a CSRF failure, a URL no pattern matches, an exception nothing
caught, Django refusing a request as malformed — comes here: ``APIErrorMiddleware`` and the ``handler*`` views
that ``edgeplatform.urls`` installs. Other paths (the console) keep Django's pages.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views import defaults

from edgeplatform.resources.errors import REASONS, status_object

__all__ = ["APIErrorMiddleware", "bad_request", "csrf_failure", "page_not_found", "permission_denied",
           "server_error"]

log = logging.getLogger("edgeplatform.api")

API_PREFIX = "/oapis/"
OAUTH_PREFIX = "/oauth/"
#: RFC 6749 error codes for what happens outside the OAuth views
OAUTH_ERRORS = {400: "invalid_request", 401: "invalid_client", 403: "access_denied", 404: "invalid_request",
                413: "invalid_request", 500: "server_error"}


def _surface(request) -> str | None:
    path = getattr(request, "path", "") or ""
    if path.startswith(API_PREFIX):
        return "api"
    if path.startswith(OAUTH_PREFIX):
        return "oauth"
    return None


def error_response(request, code: int, message: str, reason: str | None = None) -> HttpResponse | None:
    """The API-shaped answer for ``request``'s surface, or None when the path is not the API's."""
    surface = _surface(request)
    if surface == "api":
        return JsonResponse(status_object(code, reason or REASONS.get(code, "Unknown"), message), status=code)
    if surface == "oauth":
        response = JsonResponse({"error": OAUTH_ERRORS.get(code, "invalid_request"), "error_description": message},
                                status=code)
        response["Cache-Control"] = "no-store"
        return response
    return None


def _too_large(request) -> HttpResponse | None:
    raw = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw)
    except ValueError:
        return error_response(request, 400, "the Content-Length header is not a number")
    if length > settings.EDGE_API_MAX_BODY:
        return error_response(request, 413, f"the request body is larger than {settings.EDGE_API_MAX_BODY} bytes",
                              "RequestEntityTooLarge")
    return None


class APIErrorMiddleware:
    """Refuse an oversized API body before anything reads it (413); turn an uncaught exception of an API view
    into a 500 in the API's shape, logged with its stack trace (which never reaches the client)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _surface(request):
            refused = _too_large(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def process_exception(self, request, exception):
        """An exception no view handled: 500 Status (or OAuth ``server_error``), the trace to the log only."""
        if _surface(request) is None:
            return None
        log.error("internal error answering %s %s", request.method, request.path, exc_info=exception)
        return error_response(request, 500, "an internal error occurred; it has been logged", "InternalError")


def bad_request(request, exception, template_name="400.html"):
    """``handler400``: a request Django refused as malformed or suspicious."""
    message = "the request could not be processed"
    if type(exception).__name__ == "RequestDataTooBig":
        return error_response(request, 413, f"the request body is larger than {settings.EDGE_API_MAX_BODY} bytes",
                              "RequestEntityTooLarge") or defaults.bad_request(request, exception, template_name)
    return error_response(request, 400, message) or defaults.bad_request(request, exception, template_name)


def permission_denied(request, exception, template_name="403.html"):
    """``handler403``."""
    return error_response(request, 403, str(exception) or "forbidden") \
        or defaults.permission_denied(request, exception, template_name)


def page_not_found(request, exception, template_name="404.html"):
    """``handler404``: no URL pattern matched."""
    return error_response(request, 404, f'the server could not find the requested resource "{request.path}"') \
        or defaults.page_not_found(request, exception, template_name)


def server_error(request, template_name="500.html"):
    """``handler500``: an exception raised outside a view (a middleware), after Django logged it."""
    return error_response(request, 500, "an internal error occurred; it has been logged", "InternalError") \
        or defaults.server_error(request, template_name)


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: a form post or session-authenticated write without a valid CSRF token."""
    from django.views.csrf import csrf_failure as django_csrf_failure

    return error_response(request, 403, f"CSRF verification failed: {reason}") \
        or django_csrf_failure(request, reason)
