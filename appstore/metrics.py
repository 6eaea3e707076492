"""Prometheus figures of application deployments.

* ``app_deployment_total``: application deployments on the platform;
* ``app_deployment_status{status}``: deployments by the brief's status words, from ``status.phase``: ``success``
  (Running), ``failed`` (Failed, Degraded: at least one topology failed or is unreachable), ``progressing``
  (Pending, Progressing, Deleting, or not reconciled yet);

* ``app_store_application_count``, ``app_store_deployment_count``: the brief's app store figures (applications in
  the catalog, deployments of them);

read at scrape time (one ``GROUP BY`` on the typed, indexed ``phase`` column and one ``COUNT`` of applications),
so whichever process serves ``/metrics`` answers them right, one process or many (``EDGE_METRICS_DIR``);

* ``app_deployment_rollout_duration_seconds{reason,result}``: from the moment a deployment's controller started
  rolling a version (``reason``: Initial, Upgrade, Rollback) to every topology Running (``result="success"``) or to
  the rollout given up (``failed``: an automatic rollback, or the failure budget spent), observed once per rollout
  by the worker that saw it end (a histogram: every worker process writes its own samples, ``/metrics`` adds them);
* ``app_deployment_topology_writes_total``: Kubernetes writes sent to member clusters by rollouts.

Reconciles are counted by the controller base (``controller_reconcile_total{controller="app-deployments"}``).
"""
from __future__ import annotations

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from edgeplatform.metrics import register_live

__all__ = ["ROLLOUT_SECONDS", "STATUSES", "TOPOLOGY_WRITES", "DeploymentCollector", "install", "status_of"]

ROLLOUT_SECONDS = Histogram("app_deployment_rollout_duration_seconds",
                            "Seconds from the start of a deployment's rollout to every topology Running (or to "
                            "the rollout given up)", ["reason", "result"],
                            buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600))
TOPOLOGY_WRITES = Counter("app_deployment_topology_writes_total",
                          "Kubernetes writes sent to member clusters by application rollouts")
STATUSES = ("success", "failed", "progressing")


def status_of(phase: str) -> str:
    """The ``app_deployment_status`` label of a deployment phase."""
    return "success" if phase == "Running" else "failed" if phase in ("Failed", "Degraded") else "progressing"


class DeploymentCollector:
    """Deployments in all and by status, counted when scraped."""

    def describe(self):
        """The families without samples (no query at start-up)."""
        yield GaugeMetricFamily("app_deployment_total", "Application deployments")
        yield GaugeMetricFamily("app_deployment_status", "Application deployments by status", labels=["status"])
        yield GaugeMetricFamily("app_store_application_count", "Applications in the app store")
        yield GaugeMetricFamily("app_store_deployment_count", "Deployments of app store applications")

    def collect(self):
        """The families from two queries; every status is present (zero when none)."""
        from appstore.models import Application, ApplicationDeployment

        try:
            rows = list(ApplicationDeployment.objects.values("phase").annotate(count=Count("pk")).order_by())
            applications = Application.objects.count()
        except DatabaseError:  # a scrape must not fail with the database: the figures are left out
            return
        statuses = dict.fromkeys(STATUSES, 0)
        for row in rows:
            statuses[status_of(row["phase"])] += row["count"]
        total = GaugeMetricFamily("app_deployment_total", "Application deployments")
        total.add_metric([], sum(statuses.values()))
        yield total
        by_status = GaugeMetricFamily("app_deployment_status", "Application deployments by status",
                                      labels=["status"])
        for name, count in statuses.items():
            by_status.add_metric([name], count)
        yield by_status
        for name, help_text, value in (
                ("app_store_application_count", "Applications in the app store", applications),
                ("app_store_deployment_count", "Deployments of app store applications", sum(statuses.values()))):
            family = GaugeMetricFamily(name, help_text)
            family.add_metric([], value)
            yield family


def install() -> None:
    """Register the collector (once per process)."""
    register_live(DeploymentCollector())
