"""The time the controllers go by (one place, so leases, retries and periods agree)."""
from __future__ import annotations

from datetime import datetime

from django.utils import timezone

__all__ = ["now"]


def now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return timezone.now()
