"""Virtual clusters: ``spec.type: virtual`` installs the vcluster release on the host cluster (a Component of the
host, Helm in the component controller), the kubeconfig the chart writes becomes the cluster's encrypted
connection, the virtual API server is checked as a physical one is, the default components follow, Ready. The host
and the virtual cluster's API server are two emulated API servers reached over HTTP; Celery runs the tasks in the
calling thread; the chart is the project's stand-in (``tests/fixtures/charts/vcluster``)."""
from __future__ import annotations

import json
import logging

import pytest
import yaml
from django.test import override_settings

from clusters.controller import CONTROLLER
from clusters.models import Cluster
from components.models import Component
from edgeplatform import crypto
from edgeplatform.controllers import engine
from edgeplatform.controllers.models import ControllerState
from edgeplatform.helm import metrics as helm_metrics
from iam.audit.models import AuditEvent
from tests.components.conftest import helm_home, publish  # noqa: F401  (fixtures)
from tests.factories import ClusterFactory, UserFactory
from tests.support import ApiClient

BASE = "/oapis/scope.theriseunion.io/v1alpha1"
VERSIONS = {"k8s": "0.36.1", "k3s": "0.32.3", "k0s": "0.25.2"}


@pytest.fixture
def stand(db, kube, host, kube_clusters, helm_home):  # noqa: F811
    """The host emulator (pods get Ready, CRD sync on) registered as cluster ``host``; a second emulator as the
    virtual clusters' API server (the exported kubeconfig's server); the stand-in vcluster chart in ``library``
    under each distro's chart version."""
    kube.kubelet_on()
    ClusterFactory(name="host", labels={"cluster.theriseunion.io/role": "host"})
    (virtual,) = kube_clusters(1)
    for version in sorted(set(VERSIONS.values())):
        publish("library", "vcluster", version)

    class Stand:
        pass

    stand = Stand()
    stand.kube, stand.virtual = kube, virtual
    with override_settings(EDGE_VCLUSTER_SERVER=virtual.url, EDGE_VCLUSTER_CHART_VERSIONS=VERSIONS,
                           EDGE_CLUSTER_HEALTH_TIMEOUT=2):
        yield stand


@pytest.fixture
def admin(stand):
    return ApiClient.for_user(UserFactory(name="root", superuser=True))


def virtual(name: str, **spec) -> dict:
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": name},
            "spec": {"type": "virtual", **spec}}


def releases(emulator, namespace: str) -> list[str]:
    return sorted(s["metadata"]["name"] for s in emulator.objects("secrets", namespace=namespace)
                  if (s["metadata"].get("labels") or {}).get("owner") == "helm")


def conditions(obj) -> dict:
    return {item["type"]: item for item in (obj.status or {}).get("conditions") or []}


def reconcile(cluster):
    before = helm_metrics.calls()
    outcome = engine.reconcile(CONTROLLER, cluster.pk)
    outcome.helm_calls = helm_metrics.calls() - before
    return outcome, Cluster.objects.filter(pk=cluster.pk).first()


def test_the_brief_walk_through_through_the_api_reaches_ready(stand, admin, committed):
    # WHEN {type: virtual, distribution: k3s, version: v1.26.0} is created through the API
    with committed():
        created = admin.post(f"{BASE}/clusters", virtual("test-cluster", distribution="k3s", version="v1.26.0"))
    assert created.status_code == 201, created.json()
    # THEN it is Ready: the release installed once in vcluster-test-cluster on the host, with k3s v1.26.0
    row = Cluster.objects.get(name="test-cluster")
    assert conditions(row)["Ready"]["status"] == "True", row.status
    assert row.status["phase"] == "Ready" and row.status["provisionedTime"]
    assert row.status["kubernetesVersion"].startswith("v1.")
    assert releases(stand.kube, "vcluster-test-cluster") == ["sh.helm.release.v1.test-cluster.v1"]
    statefulset = stand.kube.object("statefulsets", "test-cluster", "vcluster-test-cluster", group="apps")
    assert statefulset["spec"]["template"]["spec"]["containers"][0]["image"] == "rancher/k3s:v1.26.0-k3s1"
    component = Component.objects.get(name="vcluster-test-cluster")
    assert component.cluster.name == "host" and component.spec["version"] == "0.32.3"
    assert component.spec["values"]["exportKubeConfig"]["server"] == stand.virtual.url
    assert component.spec["values"]["controlPlane"]["statefulSet"]["resources"]["limits"]["memory"]
    # AND the connection is the chart's kubeconfig, encrypted; never in the API body or the custom resource
    stored = crypto.decrypt_json(bytes(row.connection_secret))["kubeconfig"]
    assert stand.virtual.url in stored
    shown = admin.get(f"{BASE}/clusters/test-cluster").json()
    assert "kubeconfig" not in json.dumps(shown) and "connection" not in shown["spec"]
    resource = stand.kube.object("clusters", "test-cluster", group="scope.theriseunion.io")
    assert resource["status"]["phase"] == "Ready" and "token" not in json.dumps(resource)
    assert resource["metadata"]["finalizers"] == ["scope.theriseunion.io/vcluster"]
    # AND a second run changes nothing: no Helm call, no write
    version = row.resource_version
    outcome, again = reconcile(row)
    assert outcome.result == "success" and outcome.helm_calls == 0
    assert again.resource_version == version


def test_type_virtual_alone_is_k8s_with_the_default_chart(stand, admin, committed):
    with committed():
        assert admin.post(f"{BASE}/clusters", virtual("plain")).status_code == 201
    row = Cluster.objects.get(name="plain")
    assert row.ready, row.status
    component = Component.objects.get(name="vcluster-plain")
    assert component.spec["version"] == "0.36.1"
    assert component.spec["values"]["controlPlane"]["distro"] == {"k8s": {"enabled": True}}


def test_a_custom_resource_applied_on_the_host_is_provisioned_through_the_crd_sync(stand, host, committed):
    from clusters.manifests import ClusterConverter
    from edgeplatform import kube as gateway
    from edgeplatform.kube.watch import Watcher

    watcher = Watcher(host, [ClusterConverter()], timeout_seconds=0.5, backoff=0.01, backoff_max=0.05)
    with committed():
        watcher.run_once()

    # GIVEN the reference's annotations on a manifest applied with kubectl on the host
    manifest = {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                "metadata": {"name": "legacy", "annotations": {
                    "cluster.theriseunion.io/vcluster-enabled": "true",
                    "cluster.theriseunion.io/vcluster-distro": "k3s",
                    "cluster.theriseunion.io/vcluster-namespace": "tenant-legacy"}},
                "spec": {"version": "v1.26.0"}}
    gateway.apply(host, manifest, field_manager="kubectl")
    # WHEN the watcher brings it in
    with committed():
        watcher.run_once()
    # THEN it runs in the namespace the annotation names, and its resource on the host says Ready
    row = Cluster.objects.get(name="legacy")
    assert row.type == "virtual" and row.ready, row.status
    assert releases(stand.kube, "tenant-legacy") == ["sh.helm.release.v1.legacy.v1"]
    resource = stand.kube.object("clusters", "legacy", group="scope.theriseunion.io")
    assert {c["type"]: c["status"] for c in resource["status"]["conditions"]}["Ready"] == "True"


def test_a_bad_version_is_refused_naming_the_field(stand, admin):
    answer = admin.post(f"{BASE}/clusters", virtual("bad", version="latest"))
    assert answer.status_code == 422
    assert answer.json()["details"]["causes"][0]["field"] == "spec.version"
    assert not Cluster.objects.filter(name="bad").exists()


def test_twenty_created_at_once_all_reach_ready_with_one_install_each(stand, admin, committed):
    names = [f"vc-{index:02d}" for index in range(20)]
    with committed():
        for name in names:
            assert admin.post(f"{BASE}/clusters", virtual(name)).status_code == 201
    rows = {row.name: row for row in Cluster.objects.filter(name__in=names)}
    assert all(row.ready for row in rows.values()), {n: r.status.get("reason") for n, r in rows.items()}
    for name in names:
        assert releases(stand.kube, f"vcluster-{name}") == [f"sh.helm.release.v1.{name}.v1"]
    # AND running them all again installs nothing more
    before = helm_metrics.calls()
    for row in rows.values():
        assert engine.reconcile(CONTROLLER, row.pk).result == "success"
    assert helm_metrics.calls() == before


def test_the_secret_missing_for_a_while_waits_and_resumes_at_the_step(stand, admin, committed):
    # GIVEN the host answers 404 for the kubeconfig secret for a while
    stand.kube.fail_next(3, status=404, method="GET", path_contains="/secrets/vc-late")
    with committed():
        admin.post(f"{BASE}/clusters", virtual("late"))
    row = Cluster.objects.get(name="late")
    # THEN the status says it waits for the kubeconfig, at the first step, with a retry time
    assert not row.ready and row.status["reason"] == "WaitingForKubeconfig", row.status
    assert row.status["phase"] == "Provisioning" and row.status["nextRetryTime"]
    state = ControllerState.objects.get(controller="clusters", key=str(row.pk))
    assert state.step == "ensure_vcluster"
    # WHEN it is tried again (the secret still missing, then there) THEN Ready, one install
    reconcile(row)
    outcome, row = reconcile(row)
    assert outcome.result == "success" and row.ready, row.status
    assert outcome.helm_calls == 0
    assert releases(stand.kube, "vcluster-late") == ["sh.helm.release.v1.late.v1"]


def test_host_trouble_mid_step_is_retried_without_a_duplicate(stand, admin, committed):
    # GIVEN the host answers 503 to the namespace write
    stand.kube.fail_next(1, status=503, method="PATCH", path_contains="/namespaces/vcluster-flaky")
    with committed():
        admin.post(f"{BASE}/clusters", virtual("flaky"))
    row = Cluster.objects.get(name="flaky")
    assert not row.ready and row.status["reason"] == "Unavailable", row.status
    assert row.status["retryCount"] == 1
    # WHEN it is tried again THEN it goes on from there, installs once and is Ready
    with committed():
        reconcile(row)
    row = Cluster.objects.get(name="flaky")
    assert row.ready, row.status
    assert releases(stand.kube, "vcluster-flaky") == ["sh.helm.release.v1.flaky.v1"]


def test_a_host_timeout_mid_step_is_reported_and_retried(stand, admin, committed):
    from edgeplatform.kube import forget_clients

    with override_settings(EDGE_KUBE_READ_TIMEOUT=0.5, EDGE_KUBE_RETRIES=0):
        forget_clients()
        stand.kube.delay_next(1, 1.5, method="PATCH", path_contains="/namespaces/vcluster-slow")
        with committed():
            admin.post(f"{BASE}/clusters", virtual("slow"))
        row = Cluster.objects.get(name="slow")
        assert not row.ready and row.status["reason"] == "Unavailable", row.status
        with committed():
            reconcile(row)
    forget_clients()
    row = Cluster.objects.get(name="slow")
    assert row.ready, row.status
    assert releases(stand.kube, "vcluster-slow") == ["sh.helm.release.v1.slow.v1"]


def test_deleting_uninstalls_the_release_then_removes_namespace_contents_and_grants(stand, admin, committed,
                                                                                  platform):
    with committed():
        admin.post(f"{BASE}/clusters", virtual("doomed"))
        platform.bind("ops-doomed", "cluster-admin", "cluster", "doomed", users=["ops"])
        platform.workspace("ws-doomed", "doomed")
    assert Cluster.objects.get(name="doomed").ready
    # WHEN it is deleted through the API
    with committed():
        answer = admin.delete(f"{BASE}/clusters/doomed")
    # THEN the answer is the held object; the release went, then the namespace, the cluster and what it held
    assert answer.status_code == 202 and answer.json()["metadata"]["deletionTimestamp"], answer.json()
    assert releases(stand.kube, "vcluster-doomed") == []
    assert not Component.objects.filter(name="vcluster-doomed").exists()
    assert not Cluster.objects.filter(name="doomed").exists()
    namespace = stand.kube.object("namespaces", "vcluster-doomed")
    assert namespace is None or namespace["metadata"].get("deletionTimestamp")
    assert stand.kube.object("clusters", "doomed", group="scope.theriseunion.io") is None
    assert admin.get(f"{BASE}/clusters/doomed").status_code == 404
    deleted = set(AuditEvent.objects.filter(verb="delete").values_list("kind", "name"))
    assert {("Cluster", "doomed"), ("Component", "vcluster-doomed"), ("Workspace", "ws-doomed")} <= deleted
    from iam.models import IAMRoleBinding

    assert not IAMRoleBinding.objects.filter(name="ops-doomed").exists()


def test_the_kubeconfig_never_reaches_a_log_line(stand, admin, committed, caplog):
    caplog.set_level(logging.DEBUG)
    with committed():
        admin.post(f"{BASE}/clusters", virtual("quiet"))
    stored = crypto.decrypt_json(bytes(Cluster.objects.get(name="quiet").connection_secret))["kubeconfig"]
    token = yaml.safe_load(stored)["users"][0]["user"]["token"]
    assert token not in caplog.text
    assert not any(token in json.dumps([e.before, e.after, e.message]) for e in AuditEvent.objects.all())


def test_the_kubeconfig_downloads_for_those_allowed_and_is_audited(stand, admin, committed, platform):
    with committed():
        admin.post(f"{BASE}/clusters", virtual("dl"))
    url = f"{BASE}/clusters/dl/kubeconfig"
    # GIVEN a cluster admin (cluster-download-kubeconfig is aggregated to it), a cluster viewer, a stranger
    users = {name: platform.user(name) for name in ("ops", "watcher", "stranger")}
    platform.bind("ops-dl", "cluster-admin", "cluster", "dl", users=["ops"])
    platform.bind("watcher-dl", "cluster-viewer", "cluster", "dl", users=["watcher"])
    ops, watcher, stranger = (ApiClient.for_user(users[name]) for name in ("ops", "watcher", "stranger"))
    # THEN the admin gets the chart's kubeconfig, as a file
    answer = ops.get(url)
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"] == "application/yaml"
    assert answer["Content-Disposition"] == 'attachment; filename="dl.kubeconfig"'
    document = yaml.safe_load(answer.content)
    assert document["clusters"][0]["cluster"]["server"] == stand.virtual.url
    # AND the viewer (who sees the cluster) is refused, the stranger told there is no such cluster
    refused = watcher.get(url)
    assert refused.status_code == 403 and "clusters/kubeconfig" in refused.json()["message"]
    assert stranger.get(url).status_code == 404
    # AND both answers the cluster could give are in the audit log, without the kubeconfig
    events = AuditEvent.objects.filter(resource="clusters/kubeconfig", name="dl")
    assert set(events.values_list("actor", "result")) == {("ops", "allowed"), ("watcher", "denied")}
    token = document["users"][0]["user"]["token"]
    assert not any(token in json.dumps([e.before, e.after, e.message]) for e in AuditEvent.objects.all())


def test_a_physical_cluster_without_a_stored_kubeconfig_has_none_to_download(stand, admin, platform):
    platform.cluster("bare")
    assert admin.get(f"{BASE}/clusters/bare/kubeconfig").status_code == 404


def test_the_figures_on_metrics(stand, admin, committed):
    from django.test import Client

    with committed():
        admin.post(f"{BASE}/clusters", virtual("counted", distribution="k3s"))
    text = Client().get("/metrics").content.decode()
    assert 'vcluster_creation_duration_seconds_count{distribution="k3s"}' in text
    assert 'cluster_total{type="virtual"} 1.0' in text
    assert 'cluster_status{status="running"}' in text


def test_the_console_form_writes_a_virtual_cluster_and_the_status_endpoint_shows_its_step(stand, committed):
    """The brief's one declaration, "vcluster and the KubeEdge edge runtime", from the console's form: the vcluster
    on the host, then CloudCore (its controller-manager on) on the virtual cluster itself, then Ready."""
    from django.test import Client

    stand.virtual.kubelet_on()  # the virtual cluster's own pods (CloudCore's) get Ready
    publish("library", "cloudcore")
    client = Client()
    client.force_login(UserFactory(name="admin", superuser=True))
    with committed():
        answer = client.post("/console/clusters/cluster/add/", {
            "name": "formed", "type": "virtual", "provider": "", "distribution": "k3s", "version": "v1.26.0",
            "edge_runtime": "kubeedge", "_save": "Save"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    row = Cluster.objects.get(name="formed")
    assert row.spec["distribution"] == "k3s" and row.spec["edgeRuntime"]["type"] == "kubeedge"
    state = client.get(f"/console/clusters/cluster/{row.pk}/status/").json()
    assert state["phase"] == "Ready" and state["reason"] == "Healthy" and state["terminal"] is True, state
    cloudcore = Component.objects.get(cluster=row, name="cloudcore")
    assert cloudcore.phase == "Ready" and cloudcore.spec["values"]["controllerManager"]["enable"] is True
    assert stand.virtual.object("deployments", "cloudcore", namespace="kubeedge") is not None
    assert stand.kube.object("deployments", "cloudcore", namespace="kubeedge") is None  # not on the host
    assert Cluster.objects.get(pk=row.pk).status["edgeRuntime"]["phase"] == "Ready"
    page = client.get(f"/console/clusters/cluster/{row.pk}/change/").content.decode()
    assert 'id="kubeconfig-download"' in page
    assert client.get(f"/console/clusters/cluster/{row.pk}/kubeconfig/").status_code == 200


def test_the_default_components_are_installed_on_the_virtual_cluster_before_ready(stand, admin, committed):
    # GIVEN a default component (the test chart "component", a ConfigMap) for every cluster
    publish("library", "component", "1.0.0")
    defaults = [{"name": "agent", "spec": {"version": "1.0.0", "chart": {"name": "component"},
                                           "values": {"message": "from the platform"}}}]
    with override_settings(EDGE_CLUSTER_DEFAULT_COMPONENTS=defaults):
        with committed():
            admin.post(f"{BASE}/clusters", virtual("equipped"))
        row = Cluster.objects.get(name="equipped")
        # THEN the component of the virtual cluster is Ready, installed through its connection, and so is it
        component = Component.objects.get(cluster=row, name="agent")
        assert component.phase == "Ready" and component.namespace == "equipped", component.status
        assert component.labels["cluster.theriseunion.io/default-component"] == "true"
        assert stand.virtual.object("configmaps", "agent-settings", "edge-system")["data"]["message"] == \
            "from the platform"
        assert row.ready, row.status
        # AND a second run writes nothing more
        outcome, _ = reconcile(row)
        assert outcome.result == "success" and outcome.helm_calls == 0
        assert Component.objects.get(pk=component.pk).resource_version == component.resource_version
