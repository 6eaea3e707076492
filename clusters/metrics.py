"""Prometheus figures of clusters, read at scrape time with one ``GROUP BY`` on the typed, indexed ``type`` and
``phase`` columns (answered by whichever process serves ``/metrics``):

* ``cluster_total{type}``: clusters by type (``physical``, ``virtual``);
* ``cluster_status{status}``: clusters by status: ``running`` (phase Ready), ``failed`` (Unreachable, Failed),
  ``creating`` (anything else: not checked yet, Pending, a virtual cluster Provisioning or Deleting);
* ``cluster_nodes{cluster,ready}``: nodes of each cluster by readiness as the member sync last saw it (``True``,
  ``False``, ``Unknown``): a node that goes NotReady moves from one series to another;
* ``vcluster_creation_duration_seconds{distribution}``: from a virtual Cluster's creation to its first Ready
  (observed by the cluster controller's last step, once per cluster: ``status.provisionedTime``).
"""
from __future__ import annotations

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily

from edgeplatform.metrics import register_live

__all__ = ["VCLUSTER_CREATION_SECONDS", "ClusterCollector", "NodeCollector", "install", "status_of"]

VCLUSTER_CREATION_SECONDS = Histogram("vcluster_creation_duration_seconds",
                                      "Seconds from a virtual cluster's creation to its first Ready", ["distribution"],
                                      buckets=(5, 10, 30, 60, 120, 180, 300, 600, 900, 1800, 3600))

TYPES = ("physical", "virtual")
STATUSES = ("running", "failed", "creating")


def status_of(phase: str) -> str:
    """The ``cluster_status`` label of a phase."""
    return "running" if phase == "Ready" else "failed" if phase in ("Unreachable", "Failed") else "creating"


class ClusterCollector:
    """Clusters by type and by status, counted when scraped."""

    def describe(self):
        """The families without samples (no query at start-up)."""
        yield GaugeMetricFamily("cluster_total", "Clusters by type", labels=["type"])
        yield GaugeMetricFamily("cluster_status", "Clusters by status", labels=["status"])

    def collect(self):
        """Both families from one query; every known label is present (zero when none)."""
        from clusters.models import Cluster

        try:
            rows = list(Cluster.objects.values("type", "phase").annotate(count=Count("pk")).order_by())
        except DatabaseError:  # a scrape must not fail with the database: the figures are left out
            return
        types, statuses = dict.fromkeys(TYPES, 0), dict.fromkeys(STATUSES, 0)
        for row in rows:
            types[row["type"]] = types.get(row["type"], 0) + row["count"]
            statuses[status_of(row["phase"])] += row["count"]
        total = GaugeMetricFamily("cluster_total", "Clusters by type", labels=["type"])
        for name, count in types.items():
            total.add_metric([name], count)
        yield total
        by_status = GaugeMetricFamily("cluster_status", "Clusters by status", labels=["status"])
        for name, count in statuses.items():
            by_status.add_metric([name], count)
        yield by_status


class NodeCollector:
    """Nodes by cluster and readiness, counted when scraped (one ``GROUP BY``)."""

    def describe(self):
        """The family without samples."""
        yield GaugeMetricFamily("cluster_nodes", "Nodes by cluster and readiness", labels=["cluster", "ready"])

    def collect(self):
        """Every cluster with nodes; every readiness present for it (zero when none)."""
        from clusters.models import Node

        try:
            rows = list(Node.objects.values("cluster__name", "status__ready").annotate(count=Count("pk")).order_by())
        except DatabaseError:
            return
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            ready = row["status__ready"] if row["status__ready"] in ("True", "False") else "Unknown"
            per = counts.setdefault(row["cluster__name"], dict.fromkeys(("True", "False", "Unknown"), 0))
            per[ready] += row["count"]
        family = GaugeMetricFamily("cluster_nodes", "Nodes by cluster and readiness", labels=["cluster", "ready"])
        for cluster, per in sorted(counts.items()):
            for ready, count in per.items():
                family.add_metric([cluster, ready], count)
        yield family


def install() -> None:
    """Register the cluster and node collectors (once per process)."""
    register_live(ClusterCollector())
    register_live(NodeCollector())
