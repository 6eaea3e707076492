"""Prometheus figures of the Helm driver, correct with several worker processes (``EDGE_METRICS_DIR``).

* ``helm_operations_total{operation,result}``: Helm calls by operation (``install_or_upgrade``, ``rollback``,
  ``uninstall``, ``status``, ``history``, ``template``) and outcome (``success`` or the ``HelmError`` kind);
* ``helm_operation_duration_seconds{operation}``: how long a call took (a spawned call includes the process start).

Every call of :class:`~edgeplatform.helm.driver.HelmDriver` is counted here, so "a reconcile with nothing to do
makes no Helm call" is a figure an operator can watch and a test can assert (:func:`calls`).
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["DURATION", "OPERATIONS", "calls", "observe"]

OPERATIONS = Counter("helm_operations", "Helm calls by operation and result", ["operation", "result"])
DURATION = Histogram("helm_operation_duration_seconds", "Duration of a Helm call", ["operation"],
                     buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600))


def observe(operation: str, result: str, seconds: float) -> None:
    """Count one call and its duration."""
    OPERATIONS.labels(operation=operation, result=result).inc()
    DURATION.labels(operation=operation).observe(seconds)


def calls(operation: str | None = None) -> float:
    """Helm calls made by this process so far (of one operation, or all), every result."""
    total = 0.0
    for metric in OPERATIONS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and (operation is None or sample.labels["operation"] == operation):
                total += sample.value
    return total
