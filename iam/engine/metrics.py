"""Prometheus figures of the permission engine, served on ``/metrics`` beside django-prometheus's.

* ``edge_permission_check_seconds``: latency of ``engine.allowed`` (one check in ``SAMPLE_EVERY``
  is timed, so measuring costs the hot path almost nothing);
* ``edge_permission_cache_total{level}``: where grants came from (``l1``, ``l2``, ``db``), plus
  ``edge_permission_cache_polls_total`` and ``edge_permission_cache_evictions_total``,
  read from the engine's own counters when scraped.
"""
from __future__ import annotations

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily

from edgeplatform.metrics import register_live

#: time one check in this many
SAMPLE_EVERY = 16

CHECK_SECONDS = Histogram(
    "edge_permission_check_seconds", "Latency of a permission check (sampled)",
    buckets=(5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2))


class CacheCollector:
    """Exposes the grant cache's counters at scrape time."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        """One family for hits by level, one each for polls and evictions."""
        stats = self.engine.cache.stats
        by_level = CounterMetricFamily("edge_permission_cache", "Grant lookups by the level that answered",
                                       labels=["level"])
        for level, key in (("l1", "l1_hits"), ("l2", "l2_hits"), ("db", "db_loads")):
            by_level.add_metric([level], stats[key])
        yield by_level
        yield CounterMetricFamily("edge_permission_cache_polls", "Reads of the grant change log",
                                  value=stats["polls"])
        yield CounterMetricFamily("edge_permission_cache_evictions", "Users evicted by grant changes",
                                  value=stats["evictions"])


_installed = False


def install(engine) -> None:
    """Time the engine's checks and register the cache collector (once per process)."""
    global _installed
    if _installed:
        return
    engine.observe = CHECK_SECONDS.observe
    engine.sample_every = SAMPLE_EVERY
    register_live(CacheCollector(engine))
    _installed = True
