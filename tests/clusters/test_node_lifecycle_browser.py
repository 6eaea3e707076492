"""Browser test: the node page's lifecycle panel. An administrator cordons and drains a node with the button
(confirming), sees the disruption budget that blocks the drain, and then — without reloading — sees the drain
finish once the budget is relaxed, as the panel polls the node's lifecycle every 2 s."""
from __future__ import annotations

import threading
import time

import pytest
from django.test import override_settings
from kubernetes import client as k8s
from kubernetes import config

from tests.edgeplatform.console.test_console_browser import chromium_page, log_in, shot

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def site(live_server, kube_clusters, eager_celery):
    """Cluster edge with nodes n1, n2; web-0 on n1 guarded by budget ``web`` (minAvailable 2 of 2: blocked)."""
    from clusters.models import Node
    from edgeplatform import kube as gateway
    from tests.clusters.sites import FAST, connect, core, sync_members
    from tests.support import Platform

    (emulator,) = kube_clusters(1)
    gateway.forget_clients()
    with override_settings(**FAST):
        fleet = Platform()
        fleet.user("root", superuser=True)
        connect(fleet, emulator)
        emulator.add_node("n1")
        emulator.add_node("n2")
        api = core(emulator)
        api.create_namespace({"metadata": {"name": "shop"}})
        for name, node in (("web-0", "n1"), ("web-1", "n2")):
            api.create_namespaced_pod("shop", {"metadata": {"name": name, "labels": {"app": "web"}},
                                               "spec": {"nodeName": node, "containers": [{"name": "c",
                                                                                          "image": "x:1"}]}})
            api.patch_namespaced_pod_status(name, "shop", {"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True"}]}})
        policy = k8s.PolicyV1Api(config.new_client_from_config(str(emulator.kubeconfig_path)))
        policy.create_namespaced_pod_disruption_budget("shop", {"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}}, "minAvailable": 2}})
        assert sync_members().result == "success"
        yield Node.objects.get(name="n1").pk, policy
    gateway.forget_clients()


def _relax_and_reconcile(pk, policy, done: list) -> None:
    """Another worker: the budget is relaxed and the node reconciled again (its own database connection)."""
    from django.db import connection

    from clusters.node_lifecycle import CONTROLLER
    from edgeplatform.controllers.engine import reconcile

    try:
        time.sleep(0.5)
        policy.patch_namespaced_pod_disruption_budget("web", "shop", {"spec": {"minAvailable": 1}})
        with override_settings(EDGE_KUBE_RETRIES=0):
            done.append(reconcile(CONTROLLER, pk).result)
    finally:
        connection.close()


def test_drain_button_shows_the_blocking_budget_then_live_progress_to_maintenance(live_server, site):
    pk, policy = site
    base = live_server.url
    with chromium_page(timeout_ms=15_000) as page:
        log_in(page, base, "root")
        page.goto(f"{base}/console/clusters/node/{pk}/change/")
        assert page.locator("#node-lifecycle [data-field=phase]").inner_text() == "Online"
        # WHEN the admin clicks "Cordon and drain" and confirms
        questions = []
        page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
        page.click("#node-maintenance")
        page.wait_for_selector("#node-lifecycle [data-field=phase]:text-is('Draining')")
        assert questions and "drain" in questions[0]
        # THEN the panel names the pod and the budget that block the drain
        assert "shop/web-0 (budget web)" in page.locator("#node-lifecycle [data-field=blocked]").inner_text()
        shot(page, "node-lifecycle-01-blocked")
        page.evaluate("window.__notReloaded = true")
        # WHEN the budget is relaxed and the controller runs again
        done = []
        worker = threading.Thread(target=_relax_and_reconcile, args=(pk, policy, done))
        worker.start()
        # THEN the panel moves to Maintenance by itself (polling), the page never reloaded
        page.wait_for_selector("#node-lifecycle [data-field=phase]:text-is('Maintenance')", timeout=20_000)
        worker.join(timeout=20)
        assert done == ["success"]
        assert page.evaluate("window.__notReloaded === true")
        assert page.locator("#node-lifecycle [data-field=blocked]").inner_text() == ""
        shot(page, "node-lifecycle-02-maintenance")
