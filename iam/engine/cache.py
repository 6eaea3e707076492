"""Where grants live between checks: in process (L1), in the shared cache (L2), in the database (L3).

Freshness comes from the grant change log (``iam.models.GrantChange``), written in the same
transaction as every change to templates, roles, bindings or group membership:

* the process that makes a change evicts the affected users at once (and again on commit);
* every process polls the log every ``EDGE_AUTHZ_POLL_INTERVAL`` seconds (0.25 s) and evicts
  the users it names (all users for a role or template change);
* an L2 entry carries the log position it was computed at and is taken only when no change
  this process knows of for that user is newer; at start a process reads the last
  ``TTL + 30`` seconds of the log, so an entry can never outlive the change that made it stale.
"""
from __future__ import annotations

import logging
import pickle
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.utils import timezone

from iam.engine import grants as grants_mod

log = logging.getLogger(__name__)
L2_PREFIX = "iam:grants:"


class GrantCache:
    """L1/L2/L3 lookup of compiled grants with change-log invalidation."""

    def __init__(self):
        self._l1: dict[int, grants_mod.Grants] = {}
        self._lock = threading.Lock()
        self._last_change: int | None = None
        self._next_poll = 0.0
        self._dirty: dict[int, int] = {}
        self._global_dirty = 0
        self._tx_marker = None
        self.stats = {"l1_hits": 0, "l2_hits": 0, "db_loads": 0, "polls": 0, "evictions": 0}

    # --- reading ---------------------------------------------------------------------
    def get(self, user_id: int) -> grants_mod.Grants:
        """The grants of ``user_id``, from the nearest fresh level."""
        if time.monotonic() >= self._next_poll:
            self.poll()
        found = self._l1.get(user_id)
        if found is not None:
            self.stats["l1_hits"] += 1
            return found
        found = self._from_l2(user_id)
        if found is None:
            found = grants_mod.compute(user_id)
            self.stats["db_loads"] += 1
            if self._cacheable():
                self._to_l2(found)
        else:
            self.stats["l2_hits"] += 1
        if self._cacheable():
            self._remember(found)
        return found

    def _remember(self, found: grants_mod.Grants) -> None:
        if len(self._l1) >= settings.EDGE_AUTHZ_CACHE_SIZE:
            with self._lock:  # drop the oldest tenth; dicts keep insertion order
                for key in list(self._l1)[: max(1, len(self._l1) // 10)]:
                    self._l1.pop(key, None)
        self._l1[found.user_id] = found

    def _fresh_enough(self, found: grants_mod.Grants) -> bool:
        return found.change_id >= max(self._global_dirty, self._dirty.get(found.user_id, 0))

    def _from_l2(self, user_id: int) -> grants_mod.Grants | None:
        try:
            raw = caches["default"].get(f"{L2_PREFIX}{user_id}")
        except Exception:  # the shared cache being down must not stop authorization
            log.warning("grant cache L2 unavailable", exc_info=True)
            return None
        if raw is None:
            return None
        found = pickle.loads(raw)
        return found if self._fresh_enough(found) else None

    def _to_l2(self, found: grants_mod.Grants) -> None:
        try:
            caches["default"].set(f"{L2_PREFIX}{found.user_id}", pickle.dumps(found, pickle.HIGHEST_PROTOCOL),
                                  settings.EDGE_AUTHZ_CACHE_TTL)
        except Exception:
            log.warning("grant cache L2 unavailable", exc_info=True)

    def _cacheable(self) -> bool:
        """Grants read inside a transaction that changed IAM data may yet be rolled back: keep them out."""
        return self._tx_marker is None or not connection.in_atomic_block \
            or connection.atomic_blocks[0] is not self._tx_marker

    # --- invalidation ----------------------------------------------------------------
    def poll(self) -> None:
        """Read the change log since the last poll and evict whom it names."""
        from iam.models import GrantChange

        self._next_poll = time.monotonic() + settings.EDGE_AUTHZ_POLL_INTERVAL
        self.stats["polls"] += 1
        if self._last_change is None:
            self._bootstrap()
            return
        rows = list(GrantChange.objects.filter(id__gt=self._last_change).order_by("id")
                    .values_list("id", "user_id")[:5000])
        if not rows:
            return
        self._apply(rows, everything=len(rows) == 5000)

    def _bootstrap(self) -> None:
        from iam.models import GrantChange

        since = timezone.now() - timedelta(seconds=settings.EDGE_AUTHZ_CACHE_TTL + 30)
        rows = list(GrantChange.objects.filter(created__gte=since).order_by("id").values_list("id", "user_id"))
        self._last_change = grants_mod.latest_change_id()
        self._apply(rows, everything=False)

    def _apply(self, rows: list[tuple[int, int | None]], everything: bool) -> None:
        with self._lock:
            for change_id, user_id in rows:
                if user_id is None or everything:
                    self._global_dirty = max(self._global_dirty, change_id)
                    self._l1.clear()
                else:
                    self._dirty[user_id] = max(self._dirty.get(user_id, 0), change_id)
                    self._l1.pop(user_id, None)
                self.stats["evictions"] += 1
            if rows:
                self._last_change = max(self._last_change or 0, rows[-1][0])

    def evict(self, user_ids: list[int] | None) -> None:
        """Forget users in this process now (``None``: everyone); the next check polls the log."""
        with self._lock:
            if user_ids is None:
                self._l1.clear()
            else:
                for user_id in user_ids:
                    self._l1.pop(user_id, None)
        if connection.in_atomic_block:
            self._tx_marker = connection.atomic_blocks[0]
        self._next_poll = 0.0

    def reset(self) -> None:
        """Forget everything, including the log position (tests; a process that forked)."""
        with self._lock:
            self._l1.clear()
            self._dirty.clear()
            self._global_dirty = 0
            self._last_change = None
            self._next_poll = 0.0
            self._tx_marker = None
        grants_mod.role_index.cache_clear()
        for key in self.stats:
            self.stats[key] = 0

    def drop_l1(self) -> None:
        """Empty the in-process level only (benchmarks measure the levels below)."""
        with self._lock:
            self._l1.clear()
