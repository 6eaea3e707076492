"""The earlier implementation's app store manifests (``tests/fixtures/reference_appstore.yaml``) post unchanged
through the API and mean what they meant: the provisioner, category and workspace from the labels, names from the
annotations, every version submitted for review, deployments on the one cluster that has their namespace."""
from __future__ import annotations

from appstore.models import AppCategory, Application, ApplicationDeployment, ApplicationVersion
from edgeplatform.resources.loader import documents
from tests.paths import FIXTURES

FIXTURE = FIXTURES / "reference_appstore.yaml"
BASE = "/oapis/app.theriseunion.io/v1alpha1"
PLURALS = {"AppCategory": "appcategories", "Application": "applications", "ApplicationVersion": "applicationversions",
           "ApplicationDeployment": "applicationdeployments"}


def _url(manifest: dict) -> str:
    namespace = manifest["metadata"].get("namespace")
    where = f"namespaces/{namespace}/" if namespace else ""
    return f"{BASE}/{where}{PLURALS[manifest['kind']]}"


def test_reference_app_store_manifests_post_unchanged_and_mean_what_they_meant(china, api):
    admin = api(china.user("root", superuser=True))
    manifests = documents(FIXTURE.read_text())
    for manifest in manifests:
        response = admin.post(_url(manifest), manifest)
        assert response.status_code == 201, response.json()["message"]
        # what was sent is what is shown back (the home cluster label is the only addition)
        shown = response.json()
        assert shown["spec"] == manifest["spec"], manifest["metadata"]["name"]
        labels = {key: value for key, value in shown["metadata"].get("labels", {}).items()
                  if key != "scope.theriseunion.io/cluster"}
        assert labels == manifest["metadata"].get("labels", {})
        assert shown["metadata"].get("annotations", {}) == manifest["metadata"].get("annotations", {})
    assert AppCategory.objects.get(name="retail").spec["icon"] == "shop"
    pos = Application.objects.get(name="retail-pos")
    assert (pos.provisioner, pos.category, pos.workspace.name) == ("workload", "retail", "beijing")
    assert pos.scope_path == china.workspace("beijing", "china").scope_path
    assert {row.provisioner for row in Application.objects.all()} == {"workload", "helm", "model"}
    # every version is submitted by its writer, and counted on its application
    for row in ApplicationVersion.objects.all():
        assert (row.status["reviewPhase"], row.status["submitter"]) == ("Pending", "root")
        assert row.scope_path == row.application.scope_path
    assert ApplicationVersion.objects.get(name="retail-pos-v1.0.0").major == 1
    assert admin.get(f"{BASE}/applications/retail-pos").json()["status"] == {"versionCount": 1}
    # the deployments live in the namespace's only cluster; each topology lands where its node group or node is
    deployment = ApplicationDeployment.objects.get(name="pos-shops")
    assert (deployment.cluster.name, deployment.namespace) == ("china", "dongchengqu")
    assert deployment.scope_path == china.namespace("dongchengqu", "china", "beijing").scope_path
    assert admin.get(f"{BASE}/namespaces/dongchengqu/applicationdeployments/pos-shops").json()["metadata"][
        "labels"] == {"scope.theriseunion.io/cluster": "china"}
    listed = admin.get(f"{BASE}/applicationdeployments").json()["items"]
    assert sorted(item["metadata"]["name"] for item in listed) == ["monitor-all", "pos-shops"]


def test_app_categories_are_served_as_appcat(china, api):
    from appstore.manifests import AppCategoryConverter
    from edgeplatform.kube import crds

    admin = api(china.user("root", superuser=True))
    category = next(m for m in documents(FIXTURE.read_text()) if m["kind"] == "AppCategory")
    assert admin.post(f"{BASE}/appcategories", category).status_code == 201
    assert admin.get(f"{BASE}/appcategories/retail").json()["spec"]["displayName"] == {"en-US": "Retail",
                                                                                       "zh-CN": "零售"}
    crd = crds.crd_for(AppCategoryConverter())
    assert (crd["spec"]["names"]["shortNames"], crd["spec"]["scope"]) == (["appcat"], "Cluster")
