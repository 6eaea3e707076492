"""Write rules of the app store kinds that look at other objects: where each topology may be deployed, what may be
deleted while deployed, the provisioner label, rollback through the API, and scopes that move."""
from __future__ import annotations

from appstore import review
from appstore.models import Application, ApplicationDeployment, ApplicationVersion
from clusters.models import Namespace
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.services import save_status
from iam.audit.models import AuditEvent
from tests.appstore.conftest import BASE, assert_status, deployment_manifest, version_manifest
from tests.factories import ApplicationFactory, ApplicationVersionFactory, NamespaceFactory
from tests.support import ApiClient

DEPLOYMENTS = f"{BASE}/namespaces/n1/applicationdeployments"


def _approved(version: str, application: str = "pos") -> ApplicationVersion:
    row = ApplicationVersionFactory(name=f"{application}-{version.replace('.', '-')}", application=application,
                                    version=version)
    return review.decide(row, "Approve", user=None, message="")


def _running(deployment: ApplicationDeployment, version: str, history: list | None = None):
    """Status as the controller writes it once ``version`` runs."""
    return save_status(deployment, lambda status: {**status, "applicationVersion": version,
                                                    "history": history or []}, notable=lambda a, b: False)


def _client(platform, name: str, *bindings) -> ApiClient:
    user = platform.user(name)
    for index, (role, level, value, cluster) in enumerate(bindings):
        platform.bind(f"{name}-{index}", role, level, value, cluster, users=(name,))
    return ApiClient.for_user(user)


def test_each_topology_is_authorized_where_it_lands(store, platform):
    _approved("1.0.0")
    # nina operates namespace n1 of c1 and views node group g3 of c2 (c2 has a namespace n1 too, of w3)
    nina = _client(platform, "nina", ("namespace-operator", "namespace", "n1", "c1"),
                   ("nodegroup-viewer", "nodegroup", "g3", ""))
    # the home cluster: allowed through her namespace there
    assert nina.post(DEPLOYMENTS, deployment_manifest("home", "1.0.0")).status_code == 201
    # node group g3 of c2: she may see it but not deploy there nor in namespace n1 of c2: 403 naming the topology
    body = assert_status(nina.post(DEPLOYMENTS, deployment_manifest(
        "far", "1.0.0", topologies=[{}, {"nodeGroup": "g3", "replicas": 2}])), 403, "Forbidden",
        "spec.topologies[1]")
    assert "spec.topologies[1]" in body["message"] and "g3" in body["message"]
    assert not ApplicationDeployment.objects.filter(name="far").exists()
    assert AuditEvent.objects.filter(name="far", result="allowed").count() == 0
    # node group g1 of c1 she may not even learn of: not found, naming the field
    assert_status(nina.post(DEPLOYMENTS, deployment_manifest("near", "1.0.0", topologies=[{"nodeGroup": "g1"}])),
                  422, "Invalid", "spec.topologies[0].nodeGroup")
    # WHEN she is also an operator of n1 in c2 THEN g3 is allowed through that namespace
    platform.bind("nina-c2", "namespace-operator", "namespace", "n1", "c2", users=("nina",))
    assert nina.post(DEPLOYMENTS, deployment_manifest(
        "far", "1.0.0", topologies=[{}, {"nodeGroup": "g3", "replicas": 2}])).status_code == 201
    # a node group admin may deploy to their group from a namespace they operate
    gina = _client(platform, "gina", ("namespace-operator", "namespace", "n1", "c1"),
                   ("nodegroup-admin", "nodegroup", "g1", ""))
    assert gina.post(DEPLOYMENTS, deployment_manifest("racks", "1.0.0", topologies=[{"nodeGroup": "g1"}])) \
        .status_code == 201


def test_a_replace_checks_only_new_or_changed_topologies(store, platform):
    _approved("1.0.0")
    _approved("1.1.0")
    store.admin.post(DEPLOYMENTS, deployment_manifest("wide", "1.0.0", topologies=[{}, {"nodeGroup": "g3"}]))
    nina = _client(platform, "nina", ("namespace-operator", "namespace", "n1", "c1"),
                   ("nodegroup-viewer", "nodegroup", "g3", ""))
    url = f"{DEPLOYMENTS}/wide"
    # she may upgrade the version where it already runs, and scale her own namespace's topology
    answer = nina.patch(url, {"spec": {"version": "1.1.0", "topologies": [{"replicas": 3}, {"nodeGroup": "g3"}]}})
    assert answer.status_code == 200, answer.json()
    # but not change g3's topology
    assert_status(nina.patch(url, {"spec": {"topologies": [{"replicas": 3}, {"nodeGroup": "g3", "replicas": 5}]}}),
                  403, "Forbidden", "spec.topologies[1]")
    assert ApplicationDeployment.objects.get(name="wide").spec["topologies"][1] == {"nodeGroup": "g3"}


def test_an_application_is_not_deleted_while_deployed_and_takes_its_versions_with_it(store):
    for version in ("1.0.0", "1.1.0"):
        _approved(version)
    store.alice.post(DEPLOYMENTS, deployment_manifest("shop", "1.0.0"))
    # WHEN the application is deleted while deployed THEN 409 naming the deployment, nothing goes
    body = assert_status(store.alice.delete(f"{BASE}/applications/pos"), 409, "Conflict")
    assert "n1/shop" in body["message"]
    assert ApplicationVersion.objects.filter(application__name="pos").count() == 2
    # a version a deployment runs is not deleted either; another one is, and the count follows
    _running(ApplicationDeployment.objects.get(name="shop"), "1.0.0")
    body = assert_status(store.alice.delete(f"{BASE}/applicationversions/pos-1-0-0"), 409, "Conflict")
    assert "n1/shop" in body["message"]
    assert store.alice.delete(f"{BASE}/applicationversions/pos-1-1-0").status_code == 200
    assert Application.objects.get(name="pos").status == {"latestVersion": "1.0.0", "versionCount": 1}
    # WHEN the deployment is gone THEN the application goes, its version with it, each delete audited
    deployment = ApplicationDeployment.objects.get(name="shop")
    from edgeplatform.resources.services import delete_object

    delete_object(converter_for(deployment), deployment, finalize=True)
    assert store.alice.delete(f"{BASE}/applications/pos").status_code == 200
    assert not ApplicationVersion.objects.filter(name="pos-1-0-0").exists()
    assert AuditEvent.objects.filter(resource="applicationversions", name="pos-1-0-0", verb="delete",
                                     result="allowed").count() == 1


def test_an_unknown_provisioner_is_refused_naming_the_label(store):
    manifest = ApplicationFactory.build(name="vision", provisioner="quantum", workspace="w1")
    body = assert_status(store.alice.post(f"{BASE}/applications", manifest), 422, "Invalid",
                         "metadata.labels[app.theriseunion.io/provisioner]")
    assert 'unknown provisioner "quantum"' in body["message"]
    del manifest["metadata"]["labels"]["app.theriseunion.io/provisioner"]
    assert_status(store.alice.post(f"{BASE}/applications", manifest), 422, "Invalid",
                  "metadata.labels[app.theriseunion.io/provisioner]")
    # and it never changes once set
    label = "metadata.labels[app.theriseunion.io/provisioner]"
    assert_status(store.alice.patch(f"{BASE}/applications/pos", {"metadata": {"labels": {
        "app.theriseunion.io/provisioner": "helm"}}}), 422, "Invalid", label)
    # a version must carry the config of its application's provisioner
    manifest = version_manifest("1.0.0")
    manifest["spec"]["helmConfig"] = {"chartName": "pos", "chartVersion": "1.0.0", "repository": "https://x"}
    assert_status(store.alice.post(f"{BASE}/applicationversions", manifest), 422, "Invalid", "spec.helmConfig")


def test_rollback_writes_an_earlier_version_into_the_spec(store, platform):
    _approved("1.0.0")
    _approved("1.1.0")
    store.alice.post(DEPLOYMENTS, deployment_manifest("shop", "1.1.0"))
    url = f"{DEPLOYMENTS}/shop/rollback"
    # nothing to go back to yet
    assert_status(store.alice.post(url, {}), 422, "Invalid", "version")
    _running(ApplicationDeployment.objects.get(name="shop"), "1.1.0",
             [{"toVersion": "1.0.0", "fromVersion": "", "reason": "Initial"},
              {"toVersion": "1.1.0", "fromVersion": "1.0.0", "reason": "Upgrade"}])
    # a viewer may not; an unknown version is refused naming the field
    assert_status(store.vera.post(url, {}), 403, "Forbidden")
    assert_status(store.alice.post(url, {"version": "0.9.0"}), 422, "Invalid", "version")
    assert_status(store.alice.post(url, {"version": 1}), 422, "Invalid", "version")
    # WHEN alice rolls back THEN the spec asks for the version the upgrade replaced, audited as her update
    answer = store.alice.post(url, {})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["spec"]["version"] == "1.0.0"
    assert answer.json()["metadata"]["generation"] == 2
    assert AuditEvent.objects.filter(resource="applicationdeployments", name="shop", verb="update",
                                     actor="alice").count() == 1
    # a user of another workspace is answered 404, as for a missing deployment
    olga = _client(platform, "olga", ("workspace-admin", "workspace", "w3", ""))
    hidden = assert_status(olga.post(url, {}), 404, "NotFound")
    missing = assert_status(olga.post(f"{DEPLOYMENTS}/nothing/rollback", {}), 404, "NotFound")
    assert hidden["message"].replace("shop", "X") == missing["message"].replace("nothing", "X")


def test_a_rollback_may_go_back_to_a_deprecated_version_the_deployment_ran(store):
    _approved("1.0.0")
    _approved("1.1.0")
    _approved("1.2.0")
    store.alice.post(DEPLOYMENTS, deployment_manifest("shop", "1.1.0"))
    _running(ApplicationDeployment.objects.get(name="shop"), "1.1.0",
             [{"toVersion": "1.0.0", "fromVersion": "", "reason": "Initial"},
              {"toVersion": "1.1.0", "fromVersion": "1.0.0", "reason": "Upgrade"}])
    for version in ("1.0.0", "1.2.0"):
        review.set_deprecated(ApplicationVersion.objects.get(version=version), user=None)
    url = f"{DEPLOYMENTS}/shop/rollback"
    # a deprecated version it never ran is a new deployment of it: refused naming the field
    assert_status(store.alice.post(url, {"version": "1.2.0"}), 422, "Invalid", "spec.version")
    # WHEN alice rolls back to the deprecated 1.0.0 it ran before THEN it is asked for again
    answer = store.alice.post(url, {})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["spec"]["version"] == "1.0.0"


def test_deployments_follow_their_namespace_to_another_workspace(store, platform):
    _approved("1.0.0")
    store.admin.post(DEPLOYMENTS, deployment_manifest("shop", "1.0.0"))
    wendy = _client(platform, "wendy", ("workspace-viewer", "workspace", "w2", ""))
    assert wendy.get(f"{DEPLOYMENTS}/shop").status_code == 404
    # WHEN namespace n1 of c1 moves from w1 to w2
    NamespaceFactory.apply(name="n1", cluster="c1", workspace="w2")
    # THEN the deployment lives in w2: its viewer sees it, a w1 viewer no longer does
    deployment = ApplicationDeployment.objects.get(name="shop")
    assert deployment.scope_path == Namespace.objects.get(cluster__name="c1", name="n1").scope_path
    assert "w2" in deployment.scope_path
    assert wendy.get(f"{DEPLOYMENTS}/shop").status_code == 200
    assert store.vera.get(f"{DEPLOYMENTS}/shop").status_code == 404


def test_a_version_without_its_provisioners_config_is_refused_naming_it(store):
    manifest = version_manifest("1.0.0")
    del manifest["spec"]["workloadConfig"]
    body = assert_status(store.alice.post(f"{BASE}/applicationversions", manifest), 422, "Invalid",
                         "spec.workloadConfig")
    assert 'provisioned by "workload"' in body["message"]


def test_a_workspace_takes_its_applications_with_it_unless_one_is_deployed(store):
    _approved("1.0.0")
    store.admin.post(DEPLOYMENTS, deployment_manifest("shop", "1.0.0"))
    url = "/oapis/scope.theriseunion.io/v1alpha1/workspaces/w1"
    # WHEN the workspace is deleted while its application is deployed THEN 409 naming it, nothing goes
    body = assert_status(store.admin.delete(url), 409, "Conflict")
    assert 'application "pos" is deployed (n1/shop)' in body["message"]
    assert Application.objects.filter(name="pos").exists()
    assert Namespace.objects.get(cluster__name="c1", name="n1").labels.get("theriseunion.io/workspace") == "w1"
    # WHEN the deployment is gone THEN the workspace goes, its application and version each an audited delete
    deployment = ApplicationDeployment.objects.get(name="shop")
    from edgeplatform.resources.services import delete_object

    delete_object(converter_for(deployment), deployment, finalize=True)
    assert store.admin.delete(url).status_code == 200
    assert not Application.objects.filter(name="pos").exists()
    deleted = AuditEvent.objects.filter(verb="delete", result="allowed", resource__in=(
        "applications", "applicationversions")).values_list("resource", "name")
    assert sorted(deleted) == [("applications", "pos"), ("applicationversions", "pos-1-0-0")]
