"""Browser test of the fleet console: import a physical cluster by pasting its kubeconfig (a refused one is shown
on the field and saves nothing; the right one is saved), then find it in the fleet overview with the filters
(headless Chromium through Playwright, as the console's own browser tests)."""
from __future__ import annotations

import json
import threading

import pytest
from django.test import override_settings

from tests.edgeplatform.console.test_console_browser import chromium_page, log_in, shot

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def stored(name: str) -> bool:
    """Whether cluster ``name`` is stored (read in a thread of its own: the browser's event loop holds this one)."""
    found = []

    def read():
        from django.db import connection

        from clusters.models import Cluster

        try:
            found.append(Cluster.objects.filter(name=name).exists())
        finally:
            connection.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    return found[0]


@override_settings(EDGE_CLUSTER_HEALTH_TIMEOUT=1)
def test_import_a_cluster_then_find_it_in_the_fleet(live_server, kube_clusters):
    from tests.support import Platform

    (member,) = kube_clusters(1, tokens=["s3cret"])
    fleet = Platform()
    fleet.cluster("edge-old")
    fleet.user("root", superuser=True)
    wrong = member.kubeconfig()
    wrong["users"][0]["user"]["token"] = "expired"
    with chromium_page() as page:
        base = live_server.url
        log_in(page, base, "root")
        page.goto(f"{base}/console/fleet/")
        page.click("#fleet-import")
        page.fill("#id_name", "site-7")
        page.fill("#id_kubeconfig", json.dumps(wrong))
        page.click("input[name=_save]")
        error = page.locator(".field-kubeconfig .errorlist")
        assert "401 Unauthorized" in error.inner_text() and "Nothing was saved" in error.inner_text()
        shot(page, "fleet-01-import-refused")
        assert not stored("site-7")
        page.fill("#id_kubeconfig", json.dumps(member.kubeconfig()))
        page.click("input[name=_save]")
        page.wait_for_url(f"{base}/console/clusters/cluster/")
        assert stored("site-7")
        page.goto(f"{base}/console/fleet/")
        assert page.locator("#fleet-table tbody tr").count() == 2
        assert page.locator("#tile-site-7").is_visible()
        shot(page, "fleet-02-overview")
        page.fill("#fleet-q", "site")
        page.click("#fleet-apply")
        page.wait_for_url("**q=site**")
        assert page.locator("#fleet-table tbody tr").all_inner_texts()[0].startswith("site-7")
        assert page.locator("#fleet-table tbody tr").count() == 1
        page.select_option("#fleet-type", "virtual")  # applies at once
        page.wait_for_url("**type=virtual**")
        assert page.locator("#fleet-empty").is_visible()
        shot(page, "fleet-03-filtered")
