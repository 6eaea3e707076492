"""Fixtures of the component controller's tests: an emulated member cluster registered as ``edge``, the test
charts in the platform's ``library`` repository, Helm's home and the chart storage in the test's directory."""
from __future__ import annotations

import pytest
import yaml
from django.conf import settings
from django.test import override_settings

from charts import store
from components.controller import CONTROLLER
from edgeplatform.controllers.engine import reconcile
from edgeplatform.helm import metrics as helm_metrics
from tests.factories import ClusterFactory, UserFactory
from tests.helm_repo import package
from tests.paths import FIXTURES
from tests.support import ApiClient

CHARTS = FIXTURES / "charts"
FAST = {"EDGE_KUBE_RETRIES": 0, "EDGE_KUBE_READ_TIMEOUT": 2, "EDGE_KUBE_CONNECT_TIMEOUT": 0.5,
        "EDGE_HELM_TIMEOUT": 20}


@pytest.fixture
def helm_home(tmp_path):
    """Helm's home, the chart storage and quick Kubernetes timeouts, under the test's directory."""
    storages = {**settings.STORAGES, "charts": {**settings.STORAGES["charts"],
                                                "OPTIONS": {"location": str(tmp_path / "charts")}}}
    with override_settings(EDGE_HELM_HOME=str(tmp_path / "helm"), STORAGES=storages, **FAST):
        yield tmp_path / "helm"


@pytest.fixture
def host(host, db):
    """The configured host cluster (the root conftest's), with clusters host (labelled the host) and edge-bj-01."""
    ClusterFactory(name="host", labels={"cluster.theriseunion.io/role": "host"})
    ClusterFactory(name="edge-bj-01")
    return host


@pytest.fixture
def admin(host):
    """A platform administrator's API client."""
    return ApiClient.for_user(UserFactory(name="root", superuser=True))


def register_cluster(platform, name: str, emulator):
    """A Cluster row reaching ``emulator`` (no token: Helm sends none over plain http)."""
    return platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                           "metadata": {"name": name}, "spec": {"type": "physical", "connection": {
                               "type": "direct", "kubeconfig": yaml.safe_dump(emulator.kubeconfig())}}})[0]


def publish(repository: str, chart: str = "component", version: str | None = None):
    """Put a test chart (optionally under another version) into a platform repository."""
    return store.put(repository, package(CHARTS / chart, version)[1])


@pytest.fixture
def site(kube_clusters, platform, helm_home):
    """Cluster ``edge`` on an emulated API server; the ``component`` chart 1.0.0 and 1.1.0 in ``library``."""
    (emulator,) = kube_clusters(1)
    cluster = register_cluster(platform, "edge", emulator)
    publish("library")
    publish("library", version="1.1.0")

    class Site:
        pass

    site = Site()
    site.kube, site.cluster = emulator, cluster
    site.chart_path = store.local_path(store.resolve("library", "component", "1.0.0"))
    return site


def run(component):
    """One reconcile attempt of a component (what its Celery task does), and the Helm calls it made."""
    before = helm_metrics.calls()
    outcome = reconcile(CONTROLLER, component.pk)
    outcome.helm_calls = helm_metrics.calls() - before
    if type(component).objects.filter(pk=component.pk).exists():
        component.refresh_from_db()
    return outcome


def release_secrets(emulator, namespace: str = "edge-system") -> list[str]:
    """Names of Helm's release Secrets in a namespace, sorted."""
    return sorted(s["metadata"]["name"] for s in emulator.objects("secrets", namespace=namespace)
                  if (s["metadata"].get("labels") or {}).get("owner") == "helm")
