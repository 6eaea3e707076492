"""Two-way CRD sync of the app store kinds against the emulated host cluster: what the platform writes (a review
decision and the application status it moves included) becomes custom resources, and ``kubectl apply`` / ``delete``
of the reference's manifests come back through the write path as ``system:kubewatch``."""
from __future__ import annotations

from appstore.manifests import (
    DEPLOYMENT_FINALIZER,
    AppCategoryConverter,
    ApplicationConverter,
    ApplicationDeploymentConverter,
    ApplicationVersionConverter,
)
from appstore.models import AppCategory, Application, ApplicationDeployment, ApplicationVersion
from edgeplatform import kube as gateway
from edgeplatform.kube.watch import Watcher
from edgeplatform.resources.loader import documents
from iam.audit.models import AuditEvent
from tests.appstore.conftest import version_manifest
from tests.paths import FIXTURES

GROUP = "app.theriseunion.io"
BASE = f"/oapis/{GROUP}/v1alpha1"
CONVERTERS = [AppCategoryConverter(), ApplicationConverter(), ApplicationVersionConverter(),
              ApplicationDeploymentConverter()]


def cr(kube, plural: str, name: str, namespace: str | None = None):
    return kube.object(plural, name, namespace=namespace, group=GROUP)


def test_platform_writes_become_custom_resources(kube, host, china, api, committed):
    alice, bob = api(china.user("alice", superuser=True)), api(china.user("bob", superuser=True))
    reference = {m["metadata"]["name"]: m for m in documents((FIXTURES / "reference_appstore.yaml").read_text())}
    with committed():
        for name, plural in (("retail", "appcategories"), ("retail-pos", "applications")):
            assert alice.post(f"{BASE}/{plural}", reference[name]).status_code == 201
        assert alice.post(f"{BASE}/applicationversions", version_manifest("1.0.0", "retail-pos")).status_code == 201
        assert alice.post(f"{BASE}/namespaces/dongchengqu/applicationdeployments",
                          reference["pos-shops"]).status_code == 201
    assert cr(kube, "appcategories", "retail")["spec"]["icon"] == "shop"
    assert cr(kube, "applications", "retail-pos")["metadata"]["labels"]["app.theriseunion.io/provisioner"] == \
        "workload"
    assert cr(kube, "applicationversions", "retail-pos-1-0-0")["status"]["reviewPhase"] == "Pending"
    deployment = cr(kube, "applicationdeployments", "pos-shops", "dongchengqu")
    assert deployment["spec"] == reference["pos-shops"]["spec"]
    assert deployment["metadata"]["finalizers"] == [DEPLOYMENT_FINALIZER]
    assert deployment["metadata"]["labels"] == {"scope.theriseunion.io/cluster": "china"}
    # WHEN bob approves the version THEN its resource and its application's status say so
    with committed():
        assert bob.post(f"{BASE}/applicationversions/retail-pos-1-0-0/review",
                        {"decision": "Approve"}).status_code == 200
    assert cr(kube, "applicationversions", "retail-pos-1-0-0")["status"]["reviewer"] == "bob"
    assert cr(kube, "applications", "retail-pos")["status"] == {"latestVersion": "1.0.0", "versionCount": 1}
    # WHEN the deployment is deleted THEN its resource waits for the platform (the finalizer)
    with committed():
        assert alice.delete(f"{BASE}/namespaces/dongchengqu/applicationdeployments/pos-shops").status_code == 202
    assert cr(kube, "applicationdeployments", "pos-shops", "dongchengqu")["metadata"]["deletionTimestamp"]


def test_kubectl_apply_and_delete_come_back_through_kubewatch(kube, host, china, committed):
    watcher = Watcher(host, CONVERTERS, timeout_seconds=0.2, backoff=0.01, backoff_max=0.05)
    manifests = documents((FIXTURES / "reference_appstore.yaml").read_text())
    gateway.ensure_namespace(host, "dongchengqu")
    # WHEN the reference's manifests are applied with kubectl, a kind at a time as they depend on each other
    for kind in ("AppCategory", "Application", "ApplicationVersion", "ApplicationDeployment"):
        for manifest in manifests:
            if manifest["kind"] == kind:
                gateway.apply(host, manifest, field_manager="kubectl")
        with committed():
            watcher.step(kind)
    # THEN the platform has them all, as the API would have stored them
    assert set(AppCategory.objects.values_list("name", flat=True)) == {"retail"}
    assert Application.objects.get(name="shop-monitor").provisioner == "helm"
    version = ApplicationVersion.objects.get(name="retail-pos-v1.0.0")
    assert (version.review_phase, version.status["submitter"]) == ("Pending", "system")
    assert Application.objects.get(name="retail-pos").status == {"versionCount": 1}
    deployment = ApplicationDeployment.objects.get(name="pos-shops")
    assert (deployment.cluster.name, deployment.namespace) == ("china", "dongchengqu")
    # and what the platform added went back to the resources: the status, the finalizer
    assert cr(kube, "applications", "retail-pos")["status"] == {"versionCount": 1}
    assert cr(kube, "applicationdeployments", "pos-shops", "dongchengqu")["metadata"]["finalizers"] == \
        [DEPLOYMENT_FINALIZER]
    verbs = set(AuditEvent.objects.filter(actor="system:kubewatch", resource="applicationversions",
                                          result="allowed").values_list("verb", flat=True))
    assert verbs == {"create"}
    # WHEN a version is deleted with kubectl THEN it goes from the platform, and its application's count follows
    gateway.ensure_absent(host, f"{GROUP}/v1alpha1", "ApplicationVersion", "shelf-vision-v0.3.0")
    with committed():
        watcher.step("ApplicationVersion")
    assert not ApplicationVersion.objects.filter(name="shelf-vision-v0.3.0").exists()
    assert Application.objects.get(name="shelf-vision").status == {"versionCount": 0}
    # WHEN the deployment is deleted with kubectl THEN the row is asked to go (the finalizer holds the resource)
    gateway.ensure_absent(host, f"{GROUP}/v1alpha1", "ApplicationDeployment", "pos-shops", "dongchengqu")
    with committed():
        watcher.step("ApplicationDeployment")
    deployment.refresh_from_db()
    assert deployment.deletion_requested is not None
