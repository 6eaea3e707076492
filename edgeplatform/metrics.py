"""``/metrics``: Prometheus text for one process, or for all of them with ``EDGE_METRICS_DIR``.

Counters and histograms (django-prometheus's, ``controller_reconcile_*``) are values every process writes; in
multiprocess mode they live in files in ``EDGE_METRICS_DIR`` and the answer adds them up. Collectors that read a
process's own state when scraped (the grant cache's counters) are registered with :func:`register_live`: they are
answered by the process that serves the scrape, in both modes.
"""
from __future__ import annotations

import os

import prometheus_client
from django.http import HttpResponse
from prometheus_client import multiprocess

__all__ = ["multiprocess_mode", "register_live", "view"]

_live: list = []


def multiprocess_mode() -> bool:
    """Whether every process writes its figures to ``PROMETHEUS_MULTIPROC_DIR`` (set from ``EDGE_METRICS_DIR``)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def register_live(collector) -> None:
    """Serve a scrape-time collector of this process (registered with the default registry too); once per
    collector class, so an app's ``ready`` may call it again."""
    if any(type(live) is type(collector) for live in _live):
        return
    _live.append(collector)
    prometheus_client.REGISTRY.register(collector)


def view(request):
    """The Prometheus text of every process (multiprocess mode) or of this one."""
    if multiprocess_mode():
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for collector in _live:
            registry.register(collector)
    else:
        registry = prometheus_client.REGISTRY
    return HttpResponse(prometheus_client.generate_latest(registry), content_type=prometheus_client.CONTENT_TYPE_LATEST)
