"""Reachability of the services the platform needs: database, cache and Celery broker.

``checks()`` is shared by the console's dashboard and the ``/readyz`` endpoint, so both report
the same thing. Each check is short and bounded by a timeout; none raises.
"""
from __future__ import annotations

import time
import uuid

__all__ = ["checks", "healthy"]

BROKER_TIMEOUT = 2.0


def _database() -> tuple[bool, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return True, connection.vendor


def _cache() -> tuple[bool, str]:
    from django.core.cache import caches

    cache = caches["default"]
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    found = cache.get(key) == "1"
    cache.delete(key)
    return found, type(cache).__name__ if found else "written value could not be read back"


def _broker() -> tuple[bool, str]:
    from edgeplatform.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
        return True, conn.transport.driver_type


CHECKS = {"database": _database, "cache": _cache, "broker": _broker}


def checks() -> dict[str, tuple[bool, str]]:
    """``{name: (ok, detail)}`` for the database, the cache and the broker (detail says why on failure)."""
    out = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            ok, detail = check()
        except Exception as exc:  # a health check reports failures, it never raises
            ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
        out[name] = (ok, f"{detail} ({(time.perf_counter() - started) * 1000:.0f} ms)")
    return out


def healthy(results: dict[str, tuple[bool, str]] | None = None) -> bool:
    """True when every check passed."""
    return all(ok for ok, _ in (results or checks()).values())
