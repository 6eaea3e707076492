"""A component's whole life through the product's surfaces: written through the API, installed on its member
cluster by the controller, its custom resource on the host showing the outcome; deleted through the API, held by
its finalizer while the release is uninstalled, then gone everywhere. The host and the member are two emulated API
servers reached over HTTP; Celery runs the tasks in the calling thread."""
from __future__ import annotations

from components.models import Component
from tests.components.conftest import release_secrets

API_VERSION = "ext.theriseunion.io/v1alpha1"
BASE = f"/oapis/{API_VERSION}"


def custom_resource(kube, name: str, namespace: str):
    found = [o for o in kube.objects("components", namespace=namespace, group="ext.theriseunion.io")
             if o["metadata"]["name"] == name]
    return found[0] if found else None


def test_written_through_the_api_installed_on_its_cluster_and_uninstalled_before_a_delete_completes(
        kube, host, site, admin, committed):
    # GIVEN member cluster "edge" (pods get Ready), the component chart in library, the host syncing CRs
    site.kube.kubelet_on()
    manifest = {"apiVersion": API_VERSION, "kind": "Component", "metadata": {"name": "agent", "namespace": "edge"},
                "spec": {"version": "1.0.0", "chart": {"name": "component"}, "values": {"message": "hello"}}}
    # WHEN it is created through the API
    with committed():
        created = admin.post(f"{BASE}/namespaces/edge/components", manifest)
    assert created.status_code == 201, created.json()
    # THEN the controller installed it on the member and it is Ready, on the API and on the host's resource
    row = Component.objects.get(namespace="edge", name="agent")
    assert row.phase == "Ready", row.status
    assert release_secrets(site.kube) == ["sh.helm.release.v1.agent.v1"]
    assert site.kube.object("configmaps", "agent-settings", "edge-system")["data"]["message"] == "hello"
    shown = admin.get(f"{BASE}/namespaces/edge/components/agent").json()
    assert shown["status"]["phase"] == "Ready" and shown["status"]["releaseVersion"] == 1
    resource = custom_resource(kube, "agent", "edge")
    assert resource["status"]["phase"] == "Ready" and resource["metadata"]["finalizers"]
    # WHEN it is deleted through the API
    with committed():
        deleted = admin.delete(f"{BASE}/namespaces/edge/components/agent")
    # THEN the answer is the held object; the release was uninstalled, then the row and the resource went
    assert deleted.status_code == 202 and deleted.json()["metadata"]["deletionTimestamp"]
    assert release_secrets(site.kube) == []
    assert not Component.objects.filter(namespace="edge", name="agent").exists()
    assert custom_resource(kube, "agent", "edge") is None
    assert admin.get(f"{BASE}/namespaces/edge/components/agent").status_code == 404


def test_a_dependency_chain_written_in_any_order_installs_in_order(kube, host, site, admin, committed):
    # GIVEN the member "edge"; WHEN web (needs db) is written before db (needs nothing)
    site.kube.kubelet_on()
    spec = {"version": "1.0.0", "chart": {"name": "component"}}

    def body(name, **extra):
        return {"apiVersion": API_VERSION, "kind": "Component",
                "metadata": {"name": name, "namespace": "edge"}, "spec": {**spec, **extra}}

    with committed():
        assert admin.post(f"{BASE}/namespaces/edge/components", body("db")).status_code == 201
        assert admin.post(f"{BASE}/namespaces/edge/components", body("web", dependsOn=["db"])).status_code == 201
    # THEN both are Ready and db's release was made before web's
    rows = {c.name: c for c in Component.objects.filter(namespace="edge")}
    assert {name: c.phase for name, c in rows.items()} == {"db": "Ready", "web": "Ready"}
    made = {s["metadata"]["name"]: int(s["metadata"]["resourceVersion"]) for s in site.kube.objects(
        "secrets", namespace="edge-system") if (s["metadata"].get("labels") or {}).get("owner") == "helm"}
    assert made["sh.helm.release.v1.db.v1"] < made["sh.helm.release.v1.web.v1"]
    # AND deleting db while web needs it is refused, naming web
    refused = admin.delete(f"{BASE}/namespaces/edge/components/db")
    assert refused.status_code == 409 and "web" in refused.json()["message"]


