"""Errors the gateway raises: one typed error for every failed API call, never a raw client exception."""
from __future__ import annotations

import json

__all__ = ["KubeError", "KubeNotConfigured", "KubeUnavailable", "KubeconfigRefused"]


class KubeError(Exception):
    """The API server refused a request: HTTP status, Kubernetes reason, message and field causes."""

    def __init__(self, status: int, reason: str, message: str, causes: list[dict] | None = None,
                 details: dict | None = None, retry_after: float | None = None):
        super().__init__(f"{status} {reason}: {message}" if status else message)
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = causes or []
        self.details = details or {}
        self.retry_after = retry_after

    @property
    def code(self) -> int:
        """The HTTP status code (alias of ``status``, the name kube-apiserver uses in a Status)."""
        return self.status

    @property
    def not_found(self) -> bool:
        """404: the object (or its kind) does not exist."""
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """409: AlreadyExists, a stale resourceVersion, or an apply conflict."""
        return self.status == 409

    @property
    def retryable(self) -> bool:
        """Server-side trouble worth another attempt: 429 and every 5xx."""
        return self.status == 429 or self.status >= 500

    @classmethod
    def from_response(cls, status: int, body: bytes, headers) -> KubeError:
        """Build from an HTTP answer, reading the Status body when there is one."""
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        details = doc.get("details") or {}
        error_cls = KubeUnavailable if status == 429 or status >= 500 else KubeError
        return error_cls(status, doc.get("reason") or _REASONS.get(status, "Unknown"),
                         doc.get("message") or (body or b"").decode(errors="replace")[:200],
                         causes=details.get("causes") or [], details=details,
                         retry_after=_retry_after((headers or {}).get("Retry-After")))


class KubeUnavailable(KubeError):
    """The API server could not be reached or kept failing (connection errors, timeouts, 5xx, 429)."""


class KubeNotConfigured(Exception):
    """No cluster connection is configured (no host kubeconfig, or a Cluster without a stored connection)."""


class KubeconfigRefused(KubeNotConfigured):
    """A Cluster's stored kubeconfig would run a program (``exec``, ``auth-provider``) or read a file on the
    platform host; the gateway never loads it. Callers that skip unconfigured clusters skip this one too."""


def _retry_after(value) -> float | None:
    try:
        return max(0.0, float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None  # an HTTP date: fall back to our own backoff


_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
            409: "Conflict", 410: "Gone", 415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
            500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "Timeout"}
