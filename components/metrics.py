"""Prometheus figures of components.

* ``component_install_duration_seconds{result}``: how long an install or upgrade took (``success``, ``failed``:
  the release was rolled back or removed, ``error``: the cluster or Helm could not be reached);
* ``component_phase_count{phase}``: components by phase, read at scrape time with one ``GROUP BY`` on the typed,
  indexed ``phase`` column (answered by whichever process serves ``/metrics``, in multiprocess mode too).

Reconciles are counted by the controller base (``controller_reconcile_total{controller="components"}``) and Helm
calls by the driver (``helm_operations_total``).
"""
from __future__ import annotations

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily

from edgeplatform.metrics import register_live

__all__ = ["INSTALL_SECONDS", "PhaseCollector", "install"]

INSTALL_SECONDS = Histogram("component_install_duration_seconds", "Duration of a component install or upgrade",
                            ["result"], buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200))


class PhaseCollector:
    """Components by phase, counted when scraped."""

    def describe(self):
        """The family without samples (what registering asks for: no query at start-up)."""
        yield GaugeMetricFamily("component_phase_count", "Components by phase", labels=["phase"])

    def collect(self):
        """One gauge family, a sample per phase (every known phase, zero when none is in it)."""
        from components.models import Component
        from components.status import PHASES

        counts = dict.fromkeys(PHASES, 0)
        try:
            rows = list(Component.objects.values("phase").annotate(count=Count("pk")).order_by())
        except DatabaseError:  # a scrape must not fail with the database: the figure is left out
            return
        for row in rows:  # a component never reconciled has no phase yet: it is waiting
            phase = row["phase"] or "Pending"
            counts[phase] = counts.get(phase, 0) + row["count"]
        family = GaugeMetricFamily("component_phase_count", "Components by phase", labels=["phase"])
        for phase, count in counts.items():
            family.add_metric([phase], count)
        yield family


def install() -> None:
    """Register the phase collector (once per process)."""
    register_live(PhaseCollector())
