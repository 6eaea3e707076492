"""Where grants live between checks: in process (L1), in the shared cache (L2), in the database (L3).

Freshness comes from the grant change log (``iam.models.GrantChange``), written in the same
transaction as every change to templates, roles, bindings or group membership:

* the process that makes a change evicts the affected users at once (and again on commit);
* every process polls the log every ``EDGE_AUTHZ_POLL_INTERVAL`` seconds (0.25 s) and evicts
  the users it names (all users for a role or template change);
* log ids are handed out at insert but become visible at commit, so they can appear out of
  order: the poller keeps a *watermark* (every id up to it has been seen) and re-reads above
  it until each gap is filled, or is older than ``GAP_TIMEOUT`` (a rolled-back transaction);
* grants are stamped with the newest id and the holes their builder had seen (everything else
  up to that id was committed before they were read); an L2 entry is taken only when no change
  this process knows of for that user is newer than its stamp or lies in one of its holes; at start a process reads the
  last ``TTL + 30`` seconds of the log, so an entry can never outlive the change that made it stale;
* an L1 entry lives at most ``EDGE_AUTHZ_CACHE_TTL`` seconds, whatever the log says.
"""
from __future__ import annotations

import bisect
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
L2_PREFIX = "iam:grants:2:"  # 2: grants carry object permissions
#: seconds after which a hole in the log ids is taken for a rolled-back transaction
GAP_TIMEOUT = 60.0
#: a hole this wide is a rolled-back bulk write, not transactions still open
HUGE_HOLE = 50_000
#: log rows one poll reads at most (the rest on the next poll)
POLL_BATCH = 5000


class GrantCache:
    """L1/L2/L3 lookup of compiled grants with change-log invalidation."""

    def __init__(self):
        self._l1: dict[int, tuple[grants_mod.Grants, float]] = {}
        self._lock = threading.Lock()
        self._watermark: int | None = None  # every log id up to here has been seen
        self._top = 0  # the newest log id seen
        self._seen: set[int] = set()  # ids above the watermark already applied
        self._gaps: dict[int, float] = {}  # missing id → when first missed
        self._next_poll = 0.0
        #: user → the change ids naming them, noted in the last ``TTL + 30`` seconds: [(id, noted at)], by id
        self._dirty: dict[int, list[tuple[int, float]]] = {}
        self._global_dirty: list[tuple[int, float]] = []  # the same for changes naming everyone
        self._next_prune = 0.0
        self._tx_marker = None
        self.stats = {"l1_hits": 0, "l2_hits": 0, "db_loads": 0, "polls": 0, "evictions": 0}

    # --- reading ---------------------------------------------------------------------
    def get(self, user_id: int) -> grants_mod.Grants:
        """The grants of ``user_id``, from the nearest fresh level."""
        self.poll_if_due()
        entry = self._l1.get(user_id)
        if entry is not None and entry[1] > time.monotonic():
            self.stats["l1_hits"] += 1
            return entry[0]
        found = self._from_l2(user_id)
        if found is None:
            found = grants_mod.compute(user_id, self._top, tuple(self._holes()))
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
        self._l1[found.user_id] = (found, time.monotonic() + settings.EDGE_AUTHZ_CACHE_TTL)

    def _fresh_enough(self, found: grants_mod.Grants) -> bool:
        """True unless this process knows a change for the user that the grants' builder had not seen.

        A shared entry lives at most TTL seconds and a change is remembered for TTL + 30 seconds after
        this process noted it, so every change made after an entry was built is still remembered.
        """
        return self.fresh(found.user_id, (found.change_id, found.pending))

    # --- other per-user data kept fresh by the same log (iam.token_cache) ---------------
    def poll_if_due(self) -> None:
        """Read the change log when the last read is older than ``EDGE_AUTHZ_POLL_INTERVAL``."""
        if time.monotonic() >= self._next_poll:
            self.poll()

    def stamp(self) -> tuple[int, tuple]:
        """What a value read from the database now has seen of the log: (newest id, the holes below it).

        Take it *before* the read; :meth:`fresh` later says whether a change for the user came after it.
        """
        self.poll_if_due()
        return self._top, tuple(self._holes())

    def fresh(self, user_id: int, stamp: tuple[int, tuple]) -> bool:
        """True unless this process knows a change for ``user_id`` (or everyone) newer than ``stamp`` or in
        one of its holes. Valid for values at most ``EDGE_AUTHZ_CACHE_TTL`` seconds old (see
        :meth:`_fresh_enough`)."""
        change_id, pending = stamp
        for known in (self._dirty.get(user_id, ()), self._global_dirty):
            if not known:
                continue
            if known[-1][0] > change_id:
                return False
            for first, last in pending:
                if any(first <= noted <= last for noted, _ in known):
                    return False
        return True

    def cacheable(self) -> bool:
        """May a value read now be kept? Not inside a transaction that changed IAM data (it may roll back)."""
        return self._cacheable()

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
        """Read the change log above the newest id seen and inside the holes below it; evict whom it names."""
        from django.db.models import Q

        from iam.models import GrantChange

        self._next_poll = time.monotonic() + settings.EDGE_AUTHZ_POLL_INTERVAL
        self.stats["polls"] += 1
        if self._watermark is None:
            self._bootstrap()
        wanted = Q(id__gt=self._top)
        for first, last in self._holes():
            wanted |= Q(id__gte=first, id__lte=last)
        rows = list(GrantChange.objects.filter(wanted).order_by("id").values_list("id", "user_id")[:POLL_BATCH])
        self._apply([row for row in rows if row[0] not in self._seen])
        self._advance()

    def _bootstrap(self) -> None:
        """Start the watermark below the last ``TTL + 30`` seconds of the log, so those changes are applied."""
        from django.db.models import Max, Min

        from iam.models import GrantChange

        since = timezone.now() - timedelta(seconds=settings.EDGE_AUTHZ_CACHE_TTL + 30)
        recent = GrantChange.objects.filter(created__gte=since).aggregate(low=Min("id"))["low"]
        if recent is not None:
            self._watermark = recent - 1
        else:
            self._watermark = GrantChange.objects.aggregate(high=Max("id"))["high"] or 0
        self._top = self._watermark

    def _apply(self, rows: list[tuple[int, int | None]]) -> None:
        now = time.monotonic()
        with self._lock:
            if now >= self._next_prune:
                self._prune(now)
            for change_id, user_id in rows:
                if user_id is None:
                    bisect.insort(self._global_dirty, (change_id, now))
                    self._l1.clear()
                else:
                    bisect.insort(self._dirty.setdefault(user_id, []), (change_id, now))
                    self._l1.pop(user_id, None)
                self._seen.add(change_id)
                self._top = max(self._top, change_id)
                self.stats["evictions"] += 1

    def _prune(self, now: float) -> None:
        """Forget changes noted longer ago than any shared entry they could make stale can live."""
        horizon = now - settings.EDGE_AUTHZ_CACHE_TTL - 30
        self._next_prune = now + 30
        self._global_dirty = [entry for entry in self._global_dirty if entry[1] >= horizon]
        for user_id in list(self._dirty):
            kept = [entry for entry in self._dirty[user_id] if entry[1] >= horizon]
            if kept:
                self._dirty[user_id] = kept
            else:
                del self._dirty[user_id]

    def _holes(self) -> list[tuple[int, int]]:
        """The id ranges between the watermark and the newest id seen that have not been seen."""
        holes, previous = [], self._watermark
        for change_id in sorted(self._seen):
            if change_id > previous + 1:
                holes.append((previous + 1, change_id - 1))
            previous = change_id
        return holes

    def _advance(self) -> None:
        """Move the watermark over the ids seen, stopping at a hole until it fills or times out."""
        now = time.monotonic()
        mark = self._watermark
        for change_id in sorted(self._seen):
            if change_id != mark + 1:
                hole = mark + 1
                first_missed = self._gaps.setdefault(hole, now)
                if change_id - hole < HUGE_HOLE and now - first_missed < GAP_TIMEOUT:
                    break
            self._seen.discard(change_id)
            mark = change_id
        self._gaps = {hole: when for hole, when in self._gaps.items() if hole > mark}
        self._watermark = mark

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
            self._global_dirty = []
            self._watermark = None
            self._top = 0
            self._seen.clear()
            self._gaps.clear()
            self._next_poll = 0.0
            self._tx_marker = None
        grants_mod.role_index.cache_clear()
        for key in self.stats:
            self.stats[key] = 0

    def drop_l1(self) -> None:
        """Empty the in-process level only (benchmarks measure the levels below)."""
        with self._lock:
            self._l1.clear()

