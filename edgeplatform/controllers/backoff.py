"""How long to wait before the next attempt after a temporary error: jittered exponential backoff, capped."""
from __future__ import annotations

import random

from django.conf import settings

__all__ = ["delay"]


def delay(retry_count: int, *, base: float | None = None, cap: float | None = None,
          rng: random.Random | None = None) -> float:
    """Seconds before attempt ``retry_count + 1``: ``base * 2**retry_count`` capped at ``cap``, then "equal
    jitter" (half fixed, half random), so many objects failing at once do not come back at once and the wait
    still grows. ``EDGE_CONTROLLER_BACKOFF`` and ``EDGE_CONTROLLER_BACKOFF_MAX`` are the defaults."""
    base = settings.EDGE_CONTROLLER_BACKOFF if base is None else base
    cap = settings.EDGE_CONTROLLER_BACKOFF_MAX if cap is None else cap
    ceiling = min(cap, base * 2 ** min(retry_count, 62))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
