"""The one error the Helm layer raises: what failed and why, in words a user can act on."""
from __future__ import annotations

__all__ = ["HelmError"]


class HelmError(Exception):
    """A Helm operation or chart fetch failed.

    ``kind`` says what went wrong in a word the caller can branch on: ``values`` (the values do not fit the
    chart's schema), ``render`` (a template failed; the message names the file and line), ``chart`` (the chart
    cannot be loaded or is invalid), ``not-found`` (no such release, revision or chart version), ``kube`` (the
    cluster is unreachable or refused an object), ``release`` (the action itself failed), ``repository``
    (the chart repository is unreachable or answered badly), ``digest`` (a downloaded chart does not match its
    index), ``timeout`` and ``unknown``. Plain data, so it crosses a process boundary intact.
    """

    def __init__(self, message: str, kind: str = "unknown", operation: str = ""):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.operation = operation

    def __reduce__(self):
        return (type(self), (self.message, self.kind, self.operation))

    def __str__(self) -> str:
        return f"{self.operation}: {self.message}" if self.operation else self.message
