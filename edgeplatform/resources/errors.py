"""Kubernetes ``Status`` errors: every failure the API returns has this one shape."""
from __future__ import annotations

import math

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    406: "NotAcceptable", 409: "Conflict", 410: "Gone", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests", 500: "InternalError",
}


class StatusError(drf.APIException):
    """An API error carried as a Kubernetes Status: code, reason, message, details.causes."""

    def __init__(self, code: int, message: str, reason: str | None = None, *, kind: str = "", name: str = "",
                 group: str = "", causes: list[dict] | None = None):
        super().__init__(detail=message)
        self.status_code = code
        self.reason = reason or REASONS.get(code, "Unknown")
        self.message = message
        self.details = {k: v for k, v in {"name": name, "group": group, "kind": kind}.items() if v}
        if causes:
            self.details["causes"] = causes

    def status(self) -> dict:
        """The Status object for this error."""
        return status_object(self.status_code, self.reason, self.message, self.details)


def status_object(code: int, reason: str, message: str, details: dict | None = None, success=False) -> dict:
    """A ``Status`` manifest."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Success" if success else "Failure", "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict:
    """One entry of ``details.causes``."""
    return {"reason": reason, "message": message, "field": field}


def invalid(kind: str, name: str, causes: list[dict], group: str = "") -> StatusError:
    """422 Invalid naming every offending field, as kube-apiserver reports validation errors."""
    summary = "; ".join(f"{c['field']}: {c['message']}" for c in causes)
    return StatusError(422, f'{kind} "{name or ""}" is invalid: {summary}', "Invalid",
                       kind=kind, name=name or "", group=group, causes=causes)


def not_found(kind: str, name: str, group: str = "") -> StatusError:
    """404 NotFound in kube-apiserver's words."""
    plural = kind.lower()
    return StatusError(404, f'{plural} "{name}" not found', kind=plural, name=name, group=group)


def flatten_drf_errors(detail, prefix: str = "") -> list[dict]:
    """Turn DRF's nested error dict/list into causes with dotted field paths (``spec.rules[0].verbs``)."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if key in ("non_field_errors", ""):
                field = prefix
            elif str(key).startswith("["):  # an index path such as "[2].verbs"
                field = f"{prefix}{key}"
            elif isinstance(key, int) or str(key).isdigit():  # a ListField's errors are keyed by index
                field = f"{prefix}[{key}]"
            else:
                field = f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten_drf_errors(value, field))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [cause(prefix or "body", str(item), _reason(item)) for item in detail]
        out = []
        for index, item in enumerate(detail):
            if item:
                out.extend(flatten_drf_errors(item, f"{prefix}[{index}]"))
        return out
    return [cause(prefix or "body", str(detail), _reason(detail))]


def _reason(item) -> str:
    code = getattr(item, "code", "")
    return {"required": "FieldValueRequired", "invalid_choice": "FieldValueNotSupported",
            "unique": "FieldValueDuplicate"}.get(code, "FieldValueInvalid")


def status_exception_handler(exc, context):
    """DRF exception handler: every error becomes a Status object, never a stack trace."""
    if isinstance(exc, StatusError):
        error = exc
    elif isinstance(exc, Http404):
        error = StatusError(404, str(exc) or "the server could not find the requested resource")
    elif isinstance(exc, PermissionDenied):
        error = StatusError(403, str(exc) or "forbidden")
    elif isinstance(exc, drf.ValidationError):
        causes = flatten_drf_errors(exc.detail)
        error = StatusError(422, "; ".join(f"{c['field']}: {c['message']}" for c in causes), "Invalid",
                            causes=causes)
    elif isinstance(exc, drf.ParseError):
        error = StatusError(400, f"the request body could not be decoded: {exc.detail}", "BadRequest")
    elif isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        error = StatusError(401, str(exc.detail), "Unauthorized")
    elif isinstance(exc, drf.Throttled):
        wait = max(1, math.ceil(exc.wait or 0))
        error = StatusError(429, f"too many requests: the rate limit was exceeded, retry in {wait} s",
                            "TooManyRequests")
        error.details["retryAfterSeconds"] = wait
    elif isinstance(exc, drf.APIException):
        error = StatusError(exc.status_code, str(exc.detail))
    else:
        return None  # a real bug: let Django's 500 handling log it (the response body stays generic)
    request = (context or {}).get("request")
    if request is not None:  # middleware (the audit log) reads what went wrong from the request
        getattr(request, "_request", request).status_error = error
    response = Response(error.status(), status=error.status_code)
    if error.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="edge-platform"'
    wait = getattr(exc, "wait", None)
    if wait:
        response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response
