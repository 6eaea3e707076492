"""Bearer tokens kept in process between requests, fresh by the grant change log.

Looking a token up costs a query and building its user row on every API request. A process keeps the
rows of the tokens it has seen (by their SHA-256, never the raw value), as it keeps grants
(:mod:`iam.engine.cache`), and drops them by the same log: revoking a token, disabling or deleting a
user and changing a password write a change for that user (``iam.signals.record_change``), which
every process reads within ``EDGE_AUTHZ_POLL_INTERVAL`` seconds. An entry also ends when its token
expires and after ``EDGE_AUTHZ_CACHE_TTL`` seconds, whatever the log says.

Each request gets copies of the cached rows, so nothing one request sets on its user (Django's
permission caches) reaches another.
"""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

__all__ = ["TokenCache", "token_cache"]


@dataclass
class _Entry:
    row: object  # an AccessToken with its user loaded
    stamp: tuple  # what the change log had shown when the row was read (GrantCache.stamp)
    until: float  # monotonic end of life


class TokenCache:
    """Token rows by digest, in this process."""

    def __init__(self):
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self.stats = {"hits": 0, "loads": 0}

    @staticmethod
    def _log():
        from iam.engine import engine

        return engine.cache

    def get(self, digest: str, load):
        """A copy of the live token row of ``digest`` (its user loaded), or None when there is none.

        ``load(digest)`` reads the row from the database (or returns None); it is called when this
        process holds no fresh entry.
        """
        log = self._log()
        log.poll_if_due()
        entry = self._entries.get(digest)
        if entry is not None and self._usable(entry, log):
            self.stats["hits"] += 1
            return _copy(entry.row)
        if entry is not None:
            self._entries.pop(digest, None)
        stamp = log.stamp()  # before the read: a change committed after it makes the entry stale
        row = load(digest)
        self.stats["loads"] += 1
        if row is None or not row.is_valid:
            return None
        if log.cacheable():
            self._put(digest, _Entry(_copy(row), stamp, time.monotonic() + settings.EDGE_AUTHZ_CACHE_TTL))
        return row

    @staticmethod
    def _usable(entry: _Entry, log) -> bool:
        row = entry.row
        return (entry.until > time.monotonic() and (row.expires is None or row.expires > timezone.now())
                and log.fresh(row.user_id, entry.stamp))

    def _put(self, digest: str, entry: _Entry) -> None:
        with self._lock:
            if len(self._entries) >= settings.EDGE_AUTHZ_CACHE_SIZE:
                for key in list(self._entries)[: max(1, len(self._entries) // 10)]:  # the oldest tenth
                    self._entries.pop(key, None)
            self._entries[digest] = entry

    def touched(self, digest: str, when) -> None:
        """Note that the token's ``last_used`` was written as ``when`` (so it is not written again soon)."""
        entry = self._entries.get(digest)
        if entry is not None:
            entry.row.last_used = when

    def clear(self) -> None:
        """Forget every token (tests; a process that forked)."""
        with self._lock:
            self._entries.clear()
        for key in self.stats:
            self.stats[key] = 0


def _copy(row):
    """A copy of a token row and of its user, sharing nothing a request could change."""
    duplicate = copy.copy(row)
    duplicate.user = copy.copy(row.user)
    return duplicate


#: the process's token cache
token_cache = TokenCache()
