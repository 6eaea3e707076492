"""The app store's console through the Django test client, as a browser uses it: the catalog (categories, search,
a workspace member's view), an application's page (versions newest first with their review state, the buttons
each user is offered), the review queue and its decisions, the version form, the deploy form (what it offers,
the manifest it writes, refusals on the fields), the deployment page (live status endpoint, topology picture,
history, rollback) and the lists' columns."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from appstore import review
from appstore.models import ApplicationDeployment, ApplicationVersion
from edgeplatform.resources.services import save_status
from iam.models import User

CATALOG = "/console/app-store/"
QUEUE = "/console/app-store/review/"
API = "app.theriseunion.io/v1alpha1"
WORKLOAD = {"deployments": [{"name": "web", "spec": {"template": {"spec": {"containers": [
    {"name": "web", "image": "nginx:1.25"}]}}}}]}


def application(name: str, *, workspace: str = "", category: str = "", display: str = "", text: str = "") -> dict:
    labels = {"app.theriseunion.io/provisioner": "workload"}
    if workspace:
        labels["theriseunion.io/workspace"] = workspace
    if category:
        labels["app.theriseunion.io/category"] = category
    annotations = {key: value for key, value in (("theriseunion.io/display-name", display),
                                                 ("theriseunion.io/description", text)) if value}
    return {"apiVersion": API, "kind": "Application",
            "metadata": {"name": name, "labels": labels, "annotations": annotations}, "spec": {}}


def version(app: str, number: str) -> dict:
    return {"apiVersion": API, "kind": "ApplicationVersion",
            "metadata": {"name": f"{app}-{number.replace('.', '-')}"},
            "spec": {"applicationRef": app, "version": number, "workloadConfig": WORKLOAD}}


def approve(name: str) -> None:
    review.decide(ApplicationVersion.objects.get(name=name), "Approve", user=None, message="fine")


def build_store(platform) -> None:
    """c1 (node groups g-north, g-south; workspaces shop and other, namespaces shop-web and other-web) and c2
    (g-east, namespace edge-web); applications web (shop: 1.0.0 and 1.2.0 approved, 1.3.0 pending), db (other,
    1.0.0 approved) and tools (the platform's, category ops: an IAM Category); AppCategory retail."""
    platform.cluster("c1")
    platform.cluster("c2")
    for group, cluster in (("g-north", "c1"), ("g-south", "c1"), ("g-east", "c2")):
        platform.nodegroup(group, cluster)
    platform.workspace("shop", "c1")
    platform.workspace("other", "c1")
    platform.namespace("shop-web", "c1", "shop")
    platform.namespace("other-web", "c1", "other")
    platform.namespace("edge-web", "c2")
    platform.apply(
        {"apiVersion": API, "kind": "AppCategory", "metadata": {"name": "retail"},
         "spec": {"displayName": {"en-US": "Retail", "zh-CN": "零售"}}},
        {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Category", "metadata": {"name": "ops"},
         "spec": {"displayName": {"en-US": "Operations"}}},
        application("web", workspace="shop", category="retail", display="Shop front", text="The till and the shelf"),
        application("db", workspace="other", category="retail", display="Stock database"),
        application("tools", category="ops", display="Toolbox", text="Diagnostics for every shop"),
        version("web", "1.0.0"), version("web", "1.2.0"), version("web", "1.3.0"), version("db", "1.0.0"),
        version("tools", "0.9.0"))
    for name in ("web-1-0-0", "web-1-2-0", "db-1-0-0", "tools-0-9-0"):
        approve(name)


@pytest.fixture
def store(platform):
    """The store of ``build_store``; root (superuser), wendy (workspace-admin of shop, nodegroup-admin of g-north),
    vic (workspace-viewer of shop)."""
    build_store(platform)
    platform.user("root", superuser=True)
    platform.user("wendy")
    platform.user("vic")
    platform.bind("wendy-shop", "workspace-admin", "workspace", "shop", "c1", users=("wendy",))
    platform.bind("wendy-north", "nodegroup-admin", "nodegroup", "g-north", "c1", users=("wendy",))
    platform.bind("vic-shop", "workspace-viewer", "workspace", "shop", "c1", users=("vic",))
    return platform


def client(name: str) -> Client:
    browser = Client()
    browser.force_login(User.objects.get(name=name))
    return browser


def html(response) -> str:
    assert response.status_code == 200, response.content[:2000]
    return response.content.decode()


def cards(page: str) -> list[str]:
    return re.findall(r'<div class="appstore-card" id="app-([^"]+)"', page)


def section(page: str, element_id: str) -> str:
    found = re.search(rf'id="{re.escape(element_id)}".*?(?=<section|</div>\s*</div>\s*{{% endblock|$)', page, re.S)
    return found.group(0) if found else ""


def pk(model, name: str) -> int:
    return model.objects.get(name=name).pk


def app_page(browser, name: str) -> str:
    from appstore.models import Application

    return html(browser.get(f"/console/appstore/application/{pk(Application, name)}/change/"))


# --- catalog -----------------------------------------------------------------------------------------------------

def test_the_catalog_groups_applications_by_category_with_their_provisioner_and_latest(store):
    page = html(client("root").get(CATALOG))
    assert cards(page) == ["tools", "db", "web"]  # Operations, then Retail (by heading), names in order
    headings = re.findall(r'<section class="appstore-category" id="category-([^"]+)"[^>]*>\s*<h2>([^<]+)</h2>', page)
    assert headings == [("ops", "Operations"), ("retail", "Retail")]  # an IAM Category's name; an AppCategory's
    web = page[page.index('id="app-web"'):]
    web = web[:web.index('id="app-', 10)] if 'id="app-' in web[10:] else web
    assert "Shop front" in web and 'data-provisioner="workload"' in web and "1.2.0" in web
    assert "The till and the shelf" in web and "appstore-deploy" in web


def test_the_catalog_searches_name_display_name_and_description(store):
    root = client("root")
    assert cards(html(root.get(CATALOG, {"q": "diagnostics"}))) == ["tools"]
    assert cards(html(root.get(CATALOG, {"q": "STOCK"}))) == ["db"]
    assert cards(html(root.get(CATALOG, {"q": "web"}))) == ["web"]
    assert cards(html(root.get(CATALOG, {"q": "nothing-like-it"}))) == []


def test_the_catalog_costs_the_same_queries_for_three_applications_or_nine(store):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    wendy = client("wendy")
    wendy.get(CATALOG)  # the session and the grants are loaded once

    def cost() -> int:
        # the engine's own reads are left out: inside a test's transaction that wrote IAM rows it reloads the
        # grants at every question (nothing of a transaction that may roll back is cached), and it polls its
        # change log on a timer
        with CaptureQueriesContext(connection) as queries:
            html(wendy.get(CATALOG))
        return len([query for query in queries if "iam_" not in query["sql"]])

    before = cost()
    assert before <= 10
    for index in range(6):
        store.apply(application(f"extra-{index}", workspace="shop", category=f"cat-{index % 4}"),
                    version(f"extra-{index}", "1.0.0"))
        approve(f"extra-{index}-1-0-0")
    assert len(cards(html(wendy.get(CATALOG)))) == 7
    assert cost() == before


def test_a_category_label_without_a_category_object_is_its_own_heading(store):
    store.apply(application("kiosk", category="self-service"))
    page = html(client("root").get(CATALOG))
    assert '<h2>self-service</h2>' in page


def test_a_workspace_member_sees_only_their_workspace_applications(store):
    page = html(client("wendy").get(CATALOG))
    assert cards(page) == ["web"]
    from appstore.models import Application

    assert client("wendy").get(f"/console/appstore/application/{pk(Application, 'db')}/change/").status_code == 404
    listed = html(client("wendy").get("/console/appstore/application/"))
    assert re.findall(r'<th class="field-name"><a href="[^"]+">([^<]+)</a>', listed) == ["web"]


def test_a_user_with_nothing_in_the_store_is_refused_the_catalog(store):
    store.user("nobody")
    assert client("nobody").get(CATALOG).status_code == 403
    assert client("nobody").get(QUEUE).status_code == 403


# --- the application's page ----------------------------------------------------------------------------------------

def test_the_application_page_lists_versions_newest_first_with_their_review_state(store):
    review.set_deprecated(ApplicationVersion.objects.get(name="web-1-0-0"), user=None)
    page = app_page(client("root"), "web")
    rows = re.findall(r'<tr id="version-([^"]+)" data-version="([^"]+)">.*?data-state="([^"]+)"', page, re.S)
    assert rows == [("web-1-3-0", "1.3.0", "Pending"), ("web-1-2-0", "1.2.0", "Approved"),
                    ("web-1-0-0", "1.0.0", "Deprecated")]
    approved = page[page.index('id="version-web-1-2-0"'):page.index('id="version-web-1-0-0"')]
    assert "system" in approved and "fine" in approved  # submitter, reviewer message
    assert 'id="application-latest">1.2.0<' in page
    assert 'id="approve-web-1-3-0"' in page and 'id="deprecate-web-1-2-0"' in page
    assert 'id="undeprecate-web-1-0-0"' in page
    assert 'id="application-deploy"' in page and 'id="application-add-version"' in page


def test_a_viewer_sees_the_versions_with_no_button(store):
    page = app_page(client("vic"), "web")
    assert 'id="version-web-1-3-0"' in page
    for button in ("approve-", "reject-", "deprecate-", "application-deploy", "application-add-version"):
        assert f'id="{button}' not in page


def test_the_submitter_sees_no_approve_button_on_their_own_version(store):
    wendy = client("wendy")
    response = wendy.post("/console/appstore/applicationversion/add/", {
        "application": "web", "version": "2.0.0", "name": "", "config": "deployments:\n- name: web\n  spec:\n"
        "    template:\n      spec:\n        containers: [{name: web, image: 'nginx:1.27'}]\n"})
    assert response.status_code == 302, response.content[:3000]
    mine = ApplicationVersion.objects.get(name="web-2-0-0")
    assert mine.status["submitter"] == "wendy" and mine.review_phase == "Pending"
    page = app_page(wendy, "web")
    assert 'id="approve-web-2-0-0"' not in page and 'id="approve-web-1-3-0"' in page
    assert "web-2-0-0" not in html(wendy.get(QUEUE))
    refused = wendy.post(f"/console/appstore/applicationversion/{mine.pk}/review/", {"decision": "Approve"})
    assert refused.status_code == 403
    assert ApplicationVersion.objects.get(pk=mine.pk).review_phase == "Pending"


def test_the_version_form_shows_the_provisioner_refusal_on_the_config(store):
    response = client("root").post("/console/appstore/applicationversion/add/", {
        "application": "web", "version": "2.1.0", "name": "", "config": "deployments: []\n"})
    page = html(response)
    assert not ApplicationVersion.objects.filter(version="2.1.0").exists()
    assert re.search(r'field-config.*?errorlist', page, re.S)
    bad = html(client("root").post("/console/appstore/applicationversion/add/", {
        "application": "web", "version": "two", "name": "", "config": "deployments: []\n"}))
    assert re.search(r'field-version.*?errorlist', bad, re.S)


def test_an_approved_version_shows_its_config_fixed_and_a_viewer_reads_it(store):
    approved = ApplicationVersion.objects.get(name="web-1-2-0")
    page = html(client("root").get(f"/console/appstore/applicationversion/{approved.pk}/change/"))
    assert re.search(r'<textarea name="config"[^>]*disabled', page) and "never changes" in page
    assert 'data-state="Approved"' in page and 'id="deprecate-web-1-2-0"' in page
    viewed = html(client("vic").get(f"/console/appstore/applicationversion/{approved.pk}/change/"))
    assert "nginx:1.25" in viewed and 'name="config"' not in viewed and 'id="deprecate-' not in viewed


def test_the_add_version_link_preselects_the_application(store):
    page = html(client("root").get("/console/appstore/applicationversion/add/?application=web"))
    assert re.search(r'<option value="web" selected>', page)


def test_the_application_form_offers_the_workspaces_the_user_may_publish_in(store):
    from appstore.models import Application

    page = html(client("wendy").get("/console/appstore/application/add/"))
    select = re.search(r'<select name="workspace".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', select) == ["shop"]  # not the platform, not "other"
    fields = {"name": "till", "workspace": "shop", "provisioner": "workload", "category": "retail",
              "display_name": "Till", "description": "Counts the cash"}
    refused = html(client("wendy").post("/console/appstore/application/add/", {**fields, "workspace": "other"}))
    assert re.search(r'field-workspace.*?errorlist', refused, re.S)
    assert client("wendy").post("/console/appstore/application/add/", fields).status_code == 302
    till = Application.objects.get(name="till")
    assert till.workspace.name == "shop" and till.provisioner == "workload" and till.category == "retail"
    assert till.annotations["theriseunion.io/description"] == "Counts the cash"
    root_choices = re.search(r'<select name="workspace".*?</select>',
                             html(client("root").get("/console/appstore/application/add/")), re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', root_choices) == ["", "other", "shop"]


def test_a_category_made_in_the_console_heads_the_catalog(store):
    root = client("root")
    response = root.post("/console/appstore/appcategory/add/", {"name": "self-service", "display_name": "Kiosks",
                                                                "description": "", "icon": "kiosk"})
    assert response.status_code == 302
    store.apply(application("kiosk", category="self-service"))
    assert "<h2>Kiosks</h2>" in html(root.get(CATALOG))
    assert "Kiosks" in html(root.get("/console/appstore/appcategory/"))


# --- review --------------------------------------------------------------------------------------------------------

def test_the_review_queue_lists_pending_versions_oldest_first_and_approves_inline(store):
    store.apply(version("db", "1.1.0"))
    root = client("root")
    page = html(root.get(QUEUE))
    assert re.findall(r'<tr id="pending-([^"]+)"', page) == ["web-1-3-0", "db-1-1-0"]
    target = ApplicationVersion.objects.get(name="web-1-3-0")
    response = root.post(f"/console/appstore/applicationversion/{target.pk}/review/",
                         {"decision": "Approve", "message": "ship it", "next": QUEUE})
    assert response.status_code == 302 and response["Location"] == QUEUE
    target.refresh_from_db()
    assert target.review_phase == "Approved" and target.status["reviewer"] == "root"
    assert target.status["reviewMessage"] == "ship it"
    page = html(root.get(QUEUE))
    assert re.findall(r'<tr id="pending-([^"]+)"', page) == ["db-1-1-0"]
    assert "Web 1.3.0 approved." in page


def test_a_rejection_carries_its_message_and_a_second_decision_is_refused_in_words(store):
    root = client("root")
    target = ApplicationVersion.objects.get(name="web-1-3-0")
    root.post(f"/console/appstore/applicationversion/{target.pk}/review/",
              {"decision": "Reject", "message": "image not pinned"})
    target.refresh_from_db()
    assert target.review_phase == "Rejected" and target.status["reviewMessage"] == "image not pinned"
    again = root.post(f"/console/appstore/applicationversion/{target.pk}/review/", {"decision": "Approve"},
                      follow=True)
    assert "is Rejected, not Pending" in html(again)
    page = app_page(root, "web")
    assert "image not pinned" in page and 'id="approve-web-1-3-0"' not in page


def test_a_user_without_review_cannot_approve(store):
    vic = client("vic")
    target = ApplicationVersion.objects.get(name="web-1-3-0")
    assert vic.get(QUEUE).status_code == 403
    assert vic.post(f"/console/appstore/applicationversion/{target.pk}/review/",
                    {"decision": "Approve"}).status_code == 403
    target.refresh_from_db()
    assert target.review_phase == "Pending"
    # a version of a workspace they cannot see is not found at all
    hidden = ApplicationVersion.objects.get(name="db-1-0-0")
    assert vic.post(f"/console/appstore/applicationversion/{hidden.pk}/review/",
                    {"decision": "Approve"}).status_code == 404


def test_a_workspace_admin_reviews_their_workspace_only(store):
    store.apply(version("db", "1.1.0"))
    page = html(client("wendy").get(QUEUE))
    assert re.findall(r'<tr id="pending-([^"]+)"', page) == ["web-1-3-0"]


def test_deprecate_and_undeprecate(store):
    root = client("root")
    target = ApplicationVersion.objects.get(name="web-1-2-0")
    root.post(f"/console/appstore/applicationversion/{target.pk}/deprecate/", {"deprecated": "true"})
    target.refresh_from_db()
    assert target.deprecated
    assert 'id="application-latest">1.0.0<' in app_page(root, "web")
    root.post(f"/console/appstore/applicationversion/{target.pk}/deprecate/", {"deprecated": "false"})
    target.refresh_from_db()
    assert not target.deprecated
    assert client("vic").post(f"/console/appstore/applicationversion/{target.pk}/deprecate/",
                              {"deprecated": "true"}).status_code == 403


# --- the deploy form ---------------------------------------------------------------------------------------------

def deploy_url(name: str = "web") -> str:
    from appstore.models import Application

    return f"/console/appstore/application/{pk(Application, name)}/deploy/"


def offered(page: str) -> tuple[list[str], dict[str, list[str]]]:
    """(namespace choices, {cluster: [places]}) of a deploy form."""
    select = re.search(r'<select name="namespace".*?</select>', page, re.S).group(0)
    namespaces = re.findall(r'<option value="([^"]+)"', select)
    clusters = {}
    for name, body in re.findall(r'id="pick-cluster-([^"]+)"[^>]*>(.*?)(?=id="pick-cluster-|</fieldset>)', page,
                                 re.S):
        clusters[name] = re.findall(r'id="place-([^"]+)"', body)
    return namespaces, clusters


def test_the_deploy_form_offers_what_the_user_may_deploy_to(store):
    namespaces, clusters = offered(html(client("root").get(deploy_url())))
    assert namespaces == ["c1/other-web", "c1/shop-web", "c2/edge-web"]
    assert clusters == {"c1": ["ng__g-north", "ng__g-south", "cloud__c1"], "c2": ["ng__g-east", "cloud__c2"]}
    page = html(client("wendy").get(deploy_url()))
    namespaces, clusters = offered(page)
    assert namespaces == ["c1/shop-web"]  # the workspace's namespace; another workspace's is not offered
    assert clusters == {"c1": ["ng__g-north", "cloud__c1"]}  # the node group she is bound to, her cluster's cloud
    versions = re.findall(r'<option value="([^"]+)"', re.search(r'<select name="version".*?</select>', page,
                                                                 re.S).group(0))
    assert versions == ["latest", "1.2.0", "1.0.0", "range"]  # approved ones, newest first; not the pending 1.3.0
    assert "latest (now 1.2.0)" in page
    assert "placeholder=" not in page[page.index('id="content-main"'):]


def test_a_place_on_another_cluster_is_reached_only_from_a_namespace_there(store):
    store.bind("wendy-east", "nodegroup-viewer", "nodegroup", "g-east", "c2", users=("wendy",))
    assert offered(html(client("wendy").get(deploy_url())))[1] == {"c1": ["ng__g-north", "cloud__c1"]}
    store.bind("wendy-edge", "namespace-admin", "namespace", "edge-web", "c2", users=("wendy",))
    wendy = client("wendy")
    namespaces, clusters = offered(html(wendy.get(deploy_url())))
    assert namespaces == ["c1/shop-web", "c2/edge-web"]
    assert clusters == {"c1": ["ng__g-north", "cloud__c1"], "c2": ["ng__g-east", "cloud__c2"]}
    fields = {"name": "web-east", "namespace": "c1/shop-web", "version": "latest", "pick_ng__g-east": "on",
              "replicas_ng__g-east": "1"}
    page = html(wendy.post(deploy_url(), fields))
    # the write path refuses the place on its checkbox (appstore.topologies.authorize)
    assert 'may not deploy to g-east of cluster &quot;c2&quot;' in page
    assert not ApplicationDeployment.objects.filter(name="web-east").exists()
    assert wendy.post(deploy_url(), {**fields, "namespace": "c2/edge-web"}).status_code == 302
    saved = ApplicationDeployment.objects.get(name="web-east")
    assert saved.cluster.name == "c2" and saved.spec["topologies"] == [
        {"cluster": "c2", "nodeGroup": "g-east", "replicas": 1}]


def test_a_viewer_has_no_deploy_form(store):
    assert client("vic").get(deploy_url()).status_code == 403


def test_deploying_writes_the_manifest_as_the_user(store):
    response = client("wendy").post(deploy_url(), {
        "name": "web-north", "namespace": "c1/shop-web", "version": "latest", "version_range": "",
        "pick_ng__g-north": "on", "replicas_ng__g-north": "2", "pick_cloud__c1": "on", "replicas_cloud__c1": "1",
        "replicas_ng__g-south": "5"})
    saved = ApplicationDeployment.objects.get(name="web-north")
    assert response.status_code == 302 and response["Location"] == \
        f"/console/appstore/applicationdeployment/{saved.pk}/change/"
    assert saved.namespace == "shop-web" and saved.cluster.name == "c1" and saved.updated_by == "wendy"
    assert saved.spec == {"application": "web", "version": "latest", "topologies": [
        {"cluster": "c1", "nodeGroup": "g-north", "replicas": 2},
        {"cluster": "c1", "nodeGroup": "__cloud__", "replicas": 1}]}


def test_a_range_is_written_as_typed_and_a_bad_one_comes_back_on_its_field(store):
    root = client("root")
    fields = {"name": "web-range", "namespace": "c1/shop-web", "version": "range", "pick_ng__g-south": "on",
              "replicas_ng__g-south": "1"}
    page = html(root.post(deploy_url(), {**fields, "version_range": "^1.x"}))
    assert re.search(r'field-version_range">\s*<ul class="errorlist"', page)
    assert not ApplicationDeployment.objects.filter(name="web-range").exists()
    assert root.post(deploy_url(), {**fields, "version_range": "^1.0"}).status_code == 302
    assert ApplicationDeployment.objects.get(name="web-range").spec["version"] == "^1.0"


def test_refusals_of_the_write_path_come_back_on_the_form(store):
    root = client("root")
    fields = {"name": "Not_A_Name", "namespace": "c1/shop-web", "version": "latest", "pick_ng__g-north": "on",
              "replicas_ng__g-north": "1"}
    page = html(root.post(deploy_url(), fields))
    assert re.search(r'field-name">\s*<ul class="errorlist"', page)
    assert "Pick at least one" in html(root.post(deploy_url(), {**fields, "name": "web-x",
                                                               "pick_ng__g-north": ""}))
    assert root.post(deploy_url(), {**fields, "name": "web-x"}).status_code == 302
    again = html(root.post(deploy_url(), {**fields, "name": "web-x"}))
    assert "already exists" in again
    # wendy cannot name another workspace's namespace, whatever she posts
    forged = html(client("wendy").post(deploy_url(), {**fields, "name": "web-y", "namespace": "c1/other-web"}))
    assert re.search(r'field-namespace">\s*<ul class="errorlist"', forged)
    assert not ApplicationDeployment.objects.filter(name="web-y").exists()


# --- the deployment's page -----------------------------------------------------------------------------------------

def deployed(store, name: str = "web-two", topologies=None, namespace: str = "shop-web", cluster: str = "c1"):
    """A deployment written as the system, with the status the controller would report."""
    from edgeplatform.resources.converters import converter_for

    manifest = {"apiVersion": API, "kind": "ApplicationDeployment",
                "metadata": {"name": name, "namespace": namespace,
                             "labels": {"scope.theriseunion.io/cluster": cluster}},
                "spec": {"application": "web", "version": "1.2.0", "topologies": topologies or [
                    {"nodeGroup": "g-north", "replicas": 2}, {"cluster": "c2", "nodeGroup": "g-east",
                                                              "replicas": 1}]}}
    from edgeplatform.resources.services import save_manifest

    return save_manifest(converter_for(ApplicationDeployment), manifest)


def report(obj, **status) -> None:
    save_status(obj, lambda current: {**current, **status}, notable=lambda before, after: False)


HISTORY = [{"toVersion": "1.0.0", "fromVersion": "", "reason": "Initial", "timestamp": "2026-12-01T10:00:00Z",
            "operator": "root"},
           {"toVersion": "1.2.0", "fromVersion": "1.0.0", "reason": "Upgrade", "timestamp": "2026-12-02T10:00:00Z",
            "operator": "root", "message": "weekly release"}]


def progressing(obj) -> None:
    report(obj, phase="Progressing", applicationVersion="1.2.0", readyStatus="2/3", observedGeneration=1,
           topologyStatuses=[{"topologyIndex": 0, "phase": "Running", "replicas": 2, "readyReplicas": 2,
                              "nodes": ["n1", "n2"]},
                             {"topologyIndex": 1, "phase": "Progressing", "replicas": 1, "readyReplicas": 0,
                              "message": "pulling the image"}],
           history=HISTORY)


def test_the_deployment_page_pictures_each_topology_by_cluster(store):
    obj = deployed(store)
    progressing(obj)
    page = html(client("root").get(f"/console/appstore/applicationdeployment/{obj.pk}/change/"))
    assert re.search(r'id="tile-c1" data-phase-field="clusters.c1.phase" data-phase="Running"', page)
    assert re.search(r'id="tile-c2" data-phase-field="clusters.c2.phase" data-phase="Progressing"', page)
    north = re.search(r'id="topology-0".*?</li>', page, re.S).group(0)
    assert 'data-phase="Running"' in north and "g-north" in north and ">2/2<" in north and "n1, n2" in north
    east = re.search(r'id="topology-1".*?</li>', page, re.S).group(0)
    assert 'data-phase="Progressing"' in east and ">0/1<" in east and "pulling the image" in east
    assert 'data-terminal="false"' in page and 'data-field="readyStatus">2/3<' in page
    history_rows = re.findall(r'<tr class="appstore-history"><td>([^<]+)</td><td>([^<]+)</td>', page)
    assert history_rows == [("2026-12-02T10:00:00Z", "Upgrade"), ("2026-12-01T10:00:00Z", "Initial")]
    assert re.search(r'<option value="1.0.0" selected>1.0.0</option>', page)  # the version the upgrade replaced
    rollback = re.search(r'<select name="version" id="rollback-version">.*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([^"]+)"', rollback) == ["1.0.0"]  # approved ones but the one running


def test_the_status_endpoint_answers_what_the_page_polls(store):
    obj = deployed(store)
    url = f"/console/appstore/applicationdeployment/{obj.pk}/status/"
    root = client("root")
    first = root.get(url).json()
    assert first["phase"] == "Pending" and first["terminal"] is False
    assert first["topologies"]["0"]["ready"] == "0/2" and first["topologies"]["1"]["cluster"] == "c2"
    progressing(obj)
    state = root.get(url).json()
    assert state["topologies"]["1"]["phase"] == "Progressing" and state["clusters"]["c1"]["ready"] == "2/2"
    assert state["readyStatus"] == "2/3" and state["terminal"] is False
    report(obj, phase="Running", readyStatus="3/3",
           topologyStatuses=[{"topologyIndex": 0, "phase": "Running", "replicas": 2, "readyReplicas": 2},
                             {"topologyIndex": 1, "phase": "Running", "replicas": 1, "readyReplicas": 1}])
    done = root.get(url).json()
    assert done["terminal"] is True and done["clusters"]["c2"] == {
        "name": "c2", "readyReplicas": 1, "replicas": 1, "phase": "Running", "ready": "1/1"}
    assert client("vic").get(url).status_code == 200
    other = deployed(store, "db-side", [{"nodeGroup": "g-south"}], namespace="other-web")
    assert client("vic").get(f"/console/appstore/applicationdeployment/{other.pk}/status/").status_code == 404


def test_the_status_endpoint_costs_the_same_queries_for_one_topology_or_five(store):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    one = deployed(store, "one", [{"nodeGroup": "g-north"}])
    five = deployed(store, "five", [{"nodeGroup": "g-north"}, {"nodeGroup": "g-south"}, {"nodeGroup": "g-east"},
                                    {"cluster": "c1", "nodeGroup": "__cloud__"},
                                    {"cluster": "c2", "nodeGroup": "__cloud__"}])
    root = client("root")

    def cost(obj) -> tuple[int, dict]:
        url = f"/console/appstore/applicationdeployment/{obj.pk}/status/"
        root.get(url)
        with CaptureQueriesContext(connection) as queries:
            state = root.get(url).json()
        return len([query for query in queries if "iam_" not in query["sql"]]), state

    few, _ = cost(one)
    many, state = cost(five)
    assert many == few
    assert {key: (item["cluster"], item["where"]) for key, item in state["topologies"].items()} == {
        "0": ("c1", "g-north"), "1": ("c1", "g-south"), "2": ("c2", "g-east"), "3": ("c1", "cloud side"),
        "4": ("c2", "cloud side")}
    assert state["clusters"]["c1"]["ready"] == "0/3" and state["clusters"]["c2"]["ready"] == "0/2"


def test_rollback_writes_the_chosen_version_as_the_user(store):
    obj = deployed(store)
    progressing(obj)
    root = client("root")
    response = root.post(f"/console/appstore/applicationdeployment/{obj.pk}/rollback/", {"version": "1.0.0"})
    assert response.status_code == 302
    obj.refresh_from_db()
    assert obj.spec["version"] == "1.0.0" and obj.updated_by == "root"
    refused = root.post(f"/console/appstore/applicationdeployment/{obj.pk}/rollback/", {"version": "1.3.0"},
                        follow=True)
    assert "has no approved version 1.3.0" in html(refused)


def test_a_viewer_sees_the_deployment_with_no_rollback(store):
    obj = deployed(store)
    progressing(obj)
    vic = client("vic")
    page = html(vic.get(f"/console/appstore/applicationdeployment/{obj.pk}/change/"))
    assert 'id="deployment-rollback"' not in page and 'id="deployment-delete"' not in page
    assert vic.post(f"/console/appstore/applicationdeployment/{obj.pk}/rollback/",
                    {"version": "1.0.0"}).status_code == 403
    obj.refresh_from_db()
    assert obj.spec["version"] == "1.2.0"


# --- lists -------------------------------------------------------------------------------------------------------

def cells(page: str, row_name: str) -> list[str]:
    row = re.search(rf'<tr[^>]*>(?:(?!</tr>).)*?>{re.escape(row_name)}</a></th>.*?</tr>', page, re.S).group(0)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]


def test_the_lists_have_kubectl_columns_badges_and_filters(store):
    root = client("root")
    apps = html(root.get("/console/appstore/application/"))
    assert cells(apps, "web")[2:7] == ["Shop front", "workload", "retail", "shop", "1.2.0"]
    assert cells(apps, "tools")[2:7] == ["Toolbox", "workload", "ops", "—", "0.9.0"]
    assert cards_from_list(html(root.get("/console/appstore/application/", {"q": "till"}))) == ["web"]
    assert cards_from_list(html(root.get("/console/appstore/application/", {"category": "ops"}))) == ["tools"]
    listed = html(root.get("/console/appstore/applicationversion/", {"review_phase": "Pending"}))
    assert cards_from_list(listed) == ["web-1-3-0"]
    assert 'class="component-phase phase-busy" data-state="Pending"' in listed
    obj = deployed(store)
    progressing(obj)
    deployments = html(root.get("/console/appstore/applicationdeployment/"))
    assert cells(deployments, "web-two")[2:8] == ["shop-web", "web", "1.2.0", "2/3", "Progressing", "2"]
    assert cards_from_list(html(root.get("/console/appstore/applicationdeployment/",
                                         {"phase": "Running"}))) == []


def cards_from_list(page: str) -> list[str]:
    return re.findall(r'<th class="field-name"><a href="[^"]+">([^<]+)</a>', page)


def test_a_workspace_member_lists_only_their_workspace(store):
    deployed(store)
    deployed(store, "db-side", [{"nodeGroup": "g-south"}], namespace="other-web")
    wendy = client("wendy")
    assert cards_from_list(html(wendy.get("/console/appstore/applicationdeployment/"))) == ["web-two"]
    assert cards_from_list(html(wendy.get("/console/appstore/applicationversion/"))) == \
        ["web-1-3-0", "web-1-2-0", "web-1-0-0"]
    hidden = ApplicationDeployment.objects.get(name="db-side")
    assert wendy.get(f"/console/appstore/applicationdeployment/{hidden.pk}/change/").status_code == 404


def test_the_add_button_of_deployments_leads_to_the_catalog(store):
    response = client("root").get("/console/appstore/applicationdeployment/add/")
    assert response.status_code == 302 and response["Location"] == CATALOG
