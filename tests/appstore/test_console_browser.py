"""Browser test of the app store console (headless Chromium through Playwright, as the console's own browser
tests): the admin publishes an application and a version with the console's forms, a second user approves the
version from the review queue, deploys it to two node groups with the deploy form and follows the deployment's
page as the controller reports each topology, with no reload. Screenshots go to ``test-output/screenshots/``."""
from __future__ import annotations

import re

import pytest

from tests.edgeplatform.console.test_console_browser import chromium_page, log_in, log_out, report_status, shot

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CONFIG = """deployments:
- name: pos
  spec:
    template:
      spec:
        containers:
        - name: pos
          image: nginx:1.27
"""


@pytest.fixture
def store(live_server):
    """c1 with node groups g-north and g-south, workspace shop and its namespace shop-web; root (the admin) and
    rita (workspace-admin of shop, nodegroup-admin of both groups). Built before the browser starts."""
    from tests.support import Platform

    fleet = Platform()
    fleet.cluster("c1")
    fleet.nodegroup("g-north", "c1")
    fleet.nodegroup("g-south", "c1")
    fleet.workspace("shop", "c1")
    fleet.namespace("shop-web", "c1", "shop")
    fleet.apply({"apiVersion": "app.theriseunion.io/v1alpha1", "kind": "AppCategory", "metadata": {"name": "retail"},
                 "spec": {"displayName": {"en-US": "Retail"}}})
    fleet.user("root", superuser=True)
    fleet.user("rita")
    fleet.bind("rita-shop", "workspace-admin", "workspace", "shop", "c1", users=("rita",))
    for group in ("g-north", "g-south"):
        fleet.bind(f"rita-{group}", "nodegroup-admin", "nodegroup", group, "c1", users=("rita",))
    return fleet


def _report(pk: int, status: dict) -> None:
    from appstore.models import ApplicationDeployment

    report_status(ApplicationDeployment, pk, status)


def test_publish_review_deploy_and_follow_a_deployment(live_server, store):
    with chromium_page() as page:
        base = live_server.url

        # GIVEN the admin publishes an application of the shop workspace, and a version of it
        log_in(page, base, "root")
        page.goto(f"{base}/console/appstore/application/add/")
        page.fill("#id_name", "pos")
        page.select_option("#id_workspace", "shop")
        page.select_option("#id_provisioner", "workload")
        page.fill("#id_category", "retail")
        page.fill("#id_display_name", "Point of sale")
        page.fill("#id_description", "The tills of every shop")
        shot(page, "appstore-01-publish-application")
        page.click("input[name=_save]")
        page.wait_for_url(f"{base}/console/appstore/application/")
        page.click("th.field-name a:text('pos')")
        page.click("#application-add-version")
        assert page.input_value("#id_application") == "pos"
        page.fill("#id_version", "1.0.0")
        page.fill("#id_config", CONFIG)
        shot(page, "appstore-02-add-version")
        page.click("input[name=_save]")
        page.wait_for_url(f"{base}/console/appstore/applicationversion/")
        assert page.locator("tr", has_text="pos-1-0-0").locator("[data-state]").inner_text() == "Pending"
        log_out(page, base)

        # WHEN a second user approves it from the review queue
        log_in(page, base, "rita")
        page.goto(f"{base}/console/app-store/review/")
        assert page.locator("tr.appstore-pending").count() == 1
        page.fill("#message-pos-1-0-0", "tills tested in the lab")
        shot(page, "appstore-03-review-queue")
        page.click("#approve-pos-1-0-0")
        page.wait_for_url(f"{base}/console/app-store/review/")
        assert page.locator("#review-empty").count() == 1
        page.goto(f"{base}/console/appstore/application/")
        page.click("th.field-name a:text('pos')")
        row = page.locator("#version-pos-1-0-0")
        assert row.locator("[data-state]").inner_text() == "Approved"
        assert "rita" in row.inner_text() and "tills tested in the lab" in row.inner_text()
        shot(page, "appstore-04-application-page")

        # AND deploys it from the catalog to two node groups
        page.goto(f"{base}/console/app-store/")
        card = page.locator("#app-pos")
        assert card.locator(".appstore-latest").inner_text() == "1.0.0"
        assert page.locator("#category-retail h2").inner_text() == "Retail"
        shot(page, "appstore-05-catalog")
        card.locator("a.appstore-deploy").click()
        page.fill("#id_name", "pos-shops")
        page.select_option("#id_namespace", "c1/shop-web")
        page.check("#pick-all-c1")  # every node group of c1, not its cloud side
        assert page.is_checked("#id_pick_ng__g-north") and page.is_checked("#id_pick_ng__g-south")
        assert not page.is_checked("#id_pick_cloud__c1")
        page.fill("#id_replicas_ng__g-north", "2")
        shot(page, "appstore-06-deploy-form")
        page.click("#deploy-submit")
        page.wait_for_url(re.compile(r".*/console/appstore/applicationdeployment/\d+/change/$"))
        pk = int(re.search(r"/(\d+)/change/$", page.url).group(1))

        # THEN its page shows both topologies under their cluster, and follows the controller's reports live
        tile = page.locator("#tile-c1")
        assert tile.locator(".appstore-topology").count() == 2
        assert page.locator("#topology-0").inner_text().startswith("g-north 0/2 ready")
        assert page.locator("#topology-1").inner_text().startswith("g-south 0/1 ready")
        shot(page, "appstore-07-deployment-pending")
        _report(pk, {"phase": "Progressing", "applicationVersion": "1.0.0", "readyStatus": "2/3",
                     "observedGeneration": 1,
                     "topologyStatuses": [
                         {"topologyIndex": 0, "phase": "Running", "replicas": 2, "readyReplicas": 2},
                         {"topologyIndex": 1, "phase": "Progressing", "replicas": 1, "readyReplicas": 0,
                          "message": "pulling nginx:1.27"}]})
        page.wait_for_function("document.querySelector('#topology-0').dataset.phase === 'Running'", timeout=8000)
        assert page.locator("#topology-1 [data-field='topologies.1.message']").inner_text() == "pulling nginx:1.27"
        assert tile.get_attribute("data-phase") == "Progressing"
        shot(page, "appstore-08-deployment-progressing")
        _report(pk, {"phase": "Running", "readyStatus": "3/3",
                     "topologyStatuses": [
                         {"topologyIndex": 0, "phase": "Running", "replicas": 2, "readyReplicas": 2},
                         {"topologyIndex": 1, "phase": "Running", "replicas": 1, "readyReplicas": 1}]})
        page.wait_for_function("document.querySelector('#deployment-progress').dataset.terminal === 'true'",
                               timeout=8000)
        assert tile.get_attribute("data-phase") == "Running"
        assert page.locator("#tile-c1 [data-field='clusters.c1.ready']").inner_text() == "3/3"
        assert page.locator("#deployment-summary [data-field=readyStatus]").inner_text() == "3/3"
        shot(page, "appstore-09-deployment-running")
