"""How a step says it did not finish: retry later, or give up until the spec changes (kopf's two errors)."""
from __future__ import annotations

__all__ = ["PermanentError", "TemporaryError"]


class TemporaryError(Exception):
    """The step cannot finish now; the object is reconciled again later.

    ``delay`` (seconds) asks for a given wait; without it the base backs off (jittered, exponential, capped).
    ``reason`` is the CamelCase word shown in the object's status.
    """

    def __init__(self, message: str, *, delay: float | None = None, reason: str = "RetryLater"):
        super().__init__(message)
        self.delay = delay
        self.reason = reason


class PermanentError(Exception):
    """The step can never finish with this spec: no retry until the object's generation moves."""

    def __init__(self, message: str, *, reason: str = "Failed"):
        super().__init__(message)
        self.reason = reason
