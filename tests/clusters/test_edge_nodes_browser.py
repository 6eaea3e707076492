"""Browser test of the Edge nodes page: a join command generated and copied, then a node that registers with it
appears in the joining nodes list without a reload (the page polls the API) and is approved with its button
(headless Chromium through Playwright, as the console's other browser tests)."""
from __future__ import annotations

import pytest
import yaml

from tests.edgeplatform.console.test_console_browser import chromium_page, in_own_thread, log_in, shot

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]
API = "scope.theriseunion.io/v1alpha1"


@pytest.fixture
def site(live_server, kube_clusters, eager_celery):
    """Cluster edge (OpenYurt, emulated member) with node group line-1; the admin root."""
    from tests.support import Platform

    (member,) = kube_clusters(1)
    fleet = Platform()
    fleet.apply({"apiVersion": API, "kind": "Cluster", "metadata": {"name": "edge"}, "spec": {
        "type": "physical", "edgeRuntime": {"type": "openyurt"},
        "connection": {"type": "direct", "kubeconfig": yaml.safe_dump(member.kubeconfig())}}})
    fleet.nodegroup("line-1", "edge")
    fleet.user("root", superuser=True)
    return member


def _register(member, name: str, token: str) -> None:
    """A node registers on the member and the member sync brings it in (in a thread of its own: the browser's
    event loop holds this one)."""
    def work():
        from clusters.member_sync import sync_cluster
        from clusters.models import Cluster

        member.add_node(name, labels={"theriseunion.io/join-token": token,
                                      "theriseunion.io/nodegroup-request": "line-1"})
        sync_cluster(Cluster.objects.get(name="edge"))

    in_own_thread(work)


def test_generate_copy_then_approve_a_node_that_appears_live(live_server, site):
    with chromium_page() as page:
        base = live_server.url
        log_in(page, base, "root")
        page.goto(f"{base}/console/edge-nodes/?group=line-1")
        assert "openyurt" in page.locator("#edge-runtime").inner_text()
        page.fill("#id_description", "rack 4")
        page.click("button[value=issue]")
        command = page.locator("#join-command").inner_text()
        assert command.startswith("yurtadm join ") and "--node-type=edge" in command
        page.click("#copy-join-command")
        page.wait_for_function("document.getElementById('copy-state').textContent !== ''", timeout=5000)
        shot(page, "edge-nodes-01-command")
        token = command.split("--token=")[1].split(".")[0]
        _register(site, "edge-9", token)
        row = page.locator("#join-edge-9")
        row.wait_for(timeout=10000)  # polled in, no reload
        assert row.get_attribute("data-phase") == "Pending"
        shot(page, "edge-nodes-02-pending")
        row.locator("button[value=approve]").click()
        page.wait_for_load_state()
        assert page.locator("#join-edge-9").get_attribute("data-phase") == "Approved"
        assert page.locator("#join-command").count() == 0  # shown once: gone after the next page
        shot(page, "edge-nodes-03-approved")
    labels = site.object("nodes", "edge-9")["metadata"]["labels"]
    assert labels["theriseunion.io/nodegroup"] == "line-1"
