"""Bounded, jittered exponential backoff around one API call, honouring ``Retry-After``.

Every gateway operation is idempotent (server-side apply, delete-if-present, reads), so a request that timed out
or hit a 5xx/429 can be sent again without double effects.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from .errors import KubeError, KubeUnavailable

__all__ = ["RetryPolicy", "call_with_retries"]

log = logging.getLogger("edgeplatform.kube")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: ``retries`` extra attempts, full-jitter backoff, an overall deadline."""

    retries: int = 4
    base: float = 0.2
    cap: float = 5.0
    deadline: float = 60.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)] (AWS' recommendation against thundering herds)."""
        return random.uniform(0, min(self.cap, self.base * (2 ** attempt)))


def call_with_retries(call: Callable[[], T], policy: RetryPolicy, what: str, sleep=time.sleep) -> T:
    """Run ``call``; retry connection errors (TLS included), timeouts, 5xx and 429 within ``policy``; 4xx raise
    at once. Whatever the client raises leaves as a ``KubeError``."""
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            return call()
        except KubeError as error:
            if not error.retryable:
                raise
            failure, wait_at_least = error, error.retry_after or 0.0
        except (Urllib3Error, OSError) as error:
            failure = KubeUnavailable(0, "ServiceUnavailable", f"{what}: {type(error).__name__}: {_short(error)}")
            wait_at_least = 0.0
        except ApiException as error:
            failure = _from_api_exception(error, what)
            if failure.status and not failure.retryable:
                raise failure from None
            wait_at_least = failure.retry_after or 0.0
        delay = max(policy.delay(attempt), wait_at_least)
        remaining = policy.deadline - (time.monotonic() - started)
        if attempt >= policy.retries or delay >= remaining:
            if isinstance(failure, KubeUnavailable):
                raise failure
            raise KubeUnavailable(failure.status, failure.reason, failure.message, failure.causes, failure.details,
                                  failure.retry_after)
        attempt += 1
        log.warning("kubernetes %s failed (%s); retry %d/%d in %.2fs", what, failure.reason if failure.status
                    else failure.message, attempt, policy.retries, delay)
        sleep(delay)


def _from_api_exception(error: ApiException, what: str) -> KubeError:
    """The client raises ``ApiException(status=0)`` for a TLS failure (it wraps urllib3's ``SSLError`` so):
    that is a connection error. One with a status is an HTTP answer."""
    if error.status:
        body = error.body if isinstance(error.body, bytes) else str(error.body or "").encode()
        return KubeError.from_response(error.status, body, error.headers)
    reason = str(error.reason or "")
    detail = " ".join(line.strip() for line in reason.splitlines() if line.strip())
    failed = "the connection failed (TLS)" if reason.startswith("SSLError") else "the connection failed"
    return KubeUnavailable(0, "ServiceUnavailable", f"{what}: {failed}: {detail[:300]}")


def _short(error: Exception) -> str:
    """The error's first line without the connection object's repr."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]
