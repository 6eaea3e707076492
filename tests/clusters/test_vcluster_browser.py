"""Browser test of a virtual cluster's page: the progress panel follows the cluster's steps to Ready by polling
its status endpoint every 2 s, with no reload, and the kubeconfig button appears for an administrator once the
cluster has a connection (headless Chromium through Playwright, as the console's own browser tests)."""
from __future__ import annotations

import pytest

from tests.edgeplatform.console.test_console_browser import chromium_page, log_in, report_status, shot

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def fleet(live_server):
    """Virtual cluster "vc1" not provisioned yet; the admin "root"."""
    from clusters.models import Cluster
    from tests.support import Platform

    fleet = Platform()
    fleet.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "vc1"},
                 "spec": {"type": "virtual", "distribution": "k3s", "version": "v1.26.0"}})
    fleet.user("root", superuser=True)
    return Cluster.objects.get(name="vc1").pk


def _report(pk: int, status: dict) -> None:
    """The controller reports a step (in a thread of its own: the browser's event loop holds this one)."""
    from clusters.models import Cluster

    report_status(Cluster, pk, status)


def test_the_progress_panel_follows_a_virtual_cluster_to_ready(live_server, fleet):
    with chromium_page() as page:
        base, pk = live_server.url, fleet
        log_in(page, base, "root")
        page.goto(f"{base}/console/clusters/cluster/{pk}/change/")
        panel = page.locator("#component-progress")
        assert panel.locator("[data-field=phase]").inner_text() == "Pending"
        assert page.locator("#kubeconfig-download").count() == 0
        shot(page, "vcluster-01-pending")
        _report(pk, {"phase": "Provisioning", "step": "ensure_vcluster", "reason": "InstallingVCluster",
                     "message": "installing the vcluster release vcluster-vc1 on the host", "retryCount": 1,
                     "nextRetryTime": "2030-01-01T00:00:00Z", "observedGeneration": 1})
        page.wait_for_function("document.querySelector('#component-progress [data-field=reason]').textContent"
                               " === 'InstallingVCluster'", timeout=8000)
        _report(pk, {"reason": "WaitingForKubeconfig", "message": "waiting for the virtual cluster's kubeconfig"})
        page.wait_for_function("document.querySelector('#component-progress [data-field=reason]').textContent"
                               " === 'WaitingForKubeconfig'", timeout=8000)
        shot(page, "vcluster-02-waiting")
        _report(pk, {"phase": "Ready", "step": None, "reason": "Healthy", "message": "Kubernetes v1.26.0",
                     "retryCount": 0, "nextRetryTime": None,
                     "conditions": [{"type": "Ready", "status": "True", "reason": "Healthy", "message": "",
                                     "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
        page.wait_for_function("document.querySelector('#component-progress').dataset.terminal === 'true'",
                               timeout=8000)
        assert panel.locator("[data-field=phase]").inner_text() == "Ready"
        shot(page, "vcluster-03-ready")
