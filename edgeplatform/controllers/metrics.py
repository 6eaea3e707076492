"""Prometheus figures of the controllers, correct with several worker processes.

* ``controller_reconcile_total{controller,result}``: attempts by outcome (``success``, ``retry``, ``permanent``,
  ``busy``, ``skipped``, ``gone``);
* ``controller_reconcile_duration_seconds{controller}``: how long an attempt took.

With ``EDGE_METRICS_DIR`` set (prometheus_client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``) every process
writes its figures to files there and ``/metrics`` adds them up, whichever process answers.
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["DURATION", "RECONCILES", "observe"]

RECONCILES = Counter("controller_reconcile", "Reconcile attempts by controller and outcome",
                     ["controller", "result"])
DURATION = Histogram("controller_reconcile_duration_seconds", "Duration of a reconcile attempt", ["controller"],
                     buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))


def observe(controller: str, result: str, seconds: float) -> None:
    """Count one attempt and its duration."""
    RECONCILES.labels(controller=controller, result=result).inc()
    DURATION.labels(controller=controller).observe(seconds)
