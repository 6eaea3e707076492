"""Components on the host cluster: each custom resource in its cluster's host namespace, held by the uninstall
finalizer while its row exists; ``kubectl apply`` and ``kubectl delete`` of a Component come back into the
platform through kubewatch. The host is the emulated API server, reached with the real client."""
from __future__ import annotations

from components.manifests import FINALIZER, ComponentConverter
from components.models import Component
from edgeplatform import kube as gateway
from edgeplatform.kube.operations import list_objects
from edgeplatform.kube.watch import Watcher
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.services import delete_object
from iam.audit.models import AuditEvent

API_VERSION = "ext.theriseunion.io/v1alpha1"
BASE = f"/oapis/{API_VERSION}"
FAST = {"EDGE_KUBE_RETRIES": 2, "EDGE_KUBE_BACKOFF": 0.01, "EDGE_KUBE_BACKOFF_MAX": 0.05}


def component(name: str, namespace: str, **spec) -> dict:
    return {"apiVersion": API_VERSION, "kind": "Component", "metadata": {"name": name, "namespace": namespace},
            "spec": {"version": "1.0.0", **spec}}


def cr(kube, name: str, namespace: str):
    found = [o for o in kube.objects("components", namespace=namespace, group="ext.theriseunion.io")
             if o["metadata"]["name"] == name]
    return found[0] if found else None


def test_the_fleet_lists_on_the_host_across_namespaces_without_collisions(kube, host, admin, committed):
    # GIVEN the same component in the host's namespace and in a member's, written through the API
    with committed():
        assert admin.post(f"{BASE}/namespaces/edge-system/components", component("agent", "edge-system")) \
            .status_code == 201
        assert admin.post(f"{BASE}/namespaces/edge-bj-01/components", component("agent", "edge-bj-01")) \
            .status_code == 201
    # THEN `kubectl get comp -A` on the host lists both, each in its namespace (created on the host as needed)
    listed = list_objects(host, API_VERSION, "Component")
    assert sorted((o["metadata"]["namespace"], o["metadata"]["name"]) for o in listed) == [
        ("edge-bj-01", "agent"), ("edge-system", "agent")]
    assert {n["metadata"]["name"] for n in kube.objects("namespaces")} >= {"edge-bj-01", "edge-system"}
    member = cr(kube, "agent", "edge-bj-01")
    assert member["metadata"]["finalizers"] == [FINALIZER]
    assert member["metadata"]["labels"] == {"scope.theriseunion.io/cluster": "edge-bj-01"}
    # WHEN the member's is deleted through the API THEN its resource waits, held by the finalizer
    with committed():
        assert admin.delete(f"{BASE}/namespaces/edge-bj-01/components/agent").status_code == 202
    held = cr(kube, "agent", "edge-bj-01")
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["finalizers"] == [FINALIZER]
    assert cr(kube, "agent", "edge-system").get("metadata", {}).get("deletionTimestamp") is None
    # WHEN the platform has uninstalled it and removes the row THEN the finalizer comes off and the resource goes
    row = Component.objects.get(namespace="edge-bj-01", name="agent")
    with committed():
        delete_object(converter_for(row), row, finalize=True)
    assert cr(kube, "agent", "edge-bj-01") is None
    assert cr(kube, "agent", "edge-system") is not None


def test_kubectl_apply_and_delete_of_a_component_come_back_through_kubewatch(kube, host, committed):
    watcher = Watcher(host, [ComponentConverter()], timeout_seconds=0.5, backoff=0.01, backoff_max=0.05)
    with committed():
        watcher.run_once()
    # WHEN a Component is applied with kubectl in the namespace of cluster edge-bj-01
    gateway.ensure_namespace(host, "edge-bj-01")
    gateway.apply(host, component("mesh", "edge-bj-01", values={"replicas": 2}), field_manager="kubectl")
    with committed():
        watcher.run_once()
    # THEN the platform has it, in that cluster, and the sync wrote the finalizer onto it
    row = Component.objects.get(name="mesh")
    assert (row.cluster.name, row.namespace, row.spec["values"]) == ("edge-bj-01", "edge-bj-01", {"replicas": 2})
    assert cr(kube, "mesh", "edge-bj-01")["metadata"]["finalizers"] == [FINALIZER]
    # WHEN it is deleted with kubectl THEN the resource waits and the row is asked to go (not removed)
    gateway.ensure_absent(host, API_VERSION, "Component", "mesh", "edge-bj-01")
    assert cr(kube, "mesh", "edge-bj-01")["metadata"]["deletionTimestamp"]
    with committed():
        watcher.run_once()
    row.refresh_from_db()
    assert row.deletion_requested is not None
    assert list(AuditEvent.objects.filter(actor="system:kubewatch", name="mesh").values_list("verb", flat=True)
                .order_by("id")) == ["create", "delete"]
    # WHEN the platform removes the row THEN the resource goes, and the watcher sees nothing more to do
    with committed():
        delete_object(converter_for(row), row, finalize=True)
    assert cr(kube, "mesh", "edge-bj-01") is None
    with committed():
        watcher.run_once()
    assert not Component.objects.filter(name="mesh").exists()
