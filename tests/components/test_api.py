"""The Component API as kubectl uses it: ``namespaces/<ns>/components[/<name>]`` and the fleet list across all
namespaces, with Kubernetes Status answers for bad input, missing dependencies and held deletes."""
from __future__ import annotations

import pytest

from components.models import Component
from tests.factories import ClusterFactory, ComponentFactory, UserFactory
from tests.support import ApiClient

pytestmark = pytest.mark.django_db
BASE = "/oapis/ext.theriseunion.io/v1alpha1"


@pytest.fixture
def admin():
    return ApiClient.for_user(UserFactory(name="root", superuser=True))


@pytest.fixture
def fleet():
    host = ClusterFactory(name="host", labels={"cluster.theriseunion.io/role": "host"})
    site = ClusterFactory(name="edge-bj-01")
    return {"host": host, "site": site,
            "host/agent": ComponentFactory(name="agent", cluster=host, namespace="edge-system"),
            "site/agent": ComponentFactory(name="agent", cluster=site, labels={"tier": "edge"}),
            "site/base": ComponentFactory(name="base", cluster=site)}


def names(response) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.content
    return [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in response.json()["items"]]


def test_the_fleet_list_shows_the_same_name_in_two_namespaces(admin, fleet):
    assert sorted(names(admin.get(f"{BASE}/components"))) == [
        ("edge-bj-01", "agent"), ("edge-bj-01", "base"), ("edge-system", "agent")]
    assert names(admin.get(f"{BASE}/components?labelSelector=tier%3Dedge")) == [("edge-bj-01", "agent")]
    assert names(admin.get(f"{BASE}/components?cluster=host")) == [("edge-system", "agent")]
    assert names(admin.get(f"{BASE}/components?fieldSelector=metadata.namespace%3Dedge-system")) == [
        ("edge-system", "agent")]
    bad = admin.get(f"{BASE}/components?fieldSelector=spec.version%3D1")
    assert (bad.status_code, bad.json()["reason"]) == (400, "BadRequest")


def test_a_namespace_lists_and_reads_its_own_components(admin, fleet):
    assert sorted(names(admin.get(f"{BASE}/namespaces/edge-bj-01/components"))) == [
        ("edge-bj-01", "agent"), ("edge-bj-01", "base")]
    assert names(admin.get(f"{BASE}/namespaces/nowhere/components")) == []
    got = admin.get(f"{BASE}/namespaces/edge-system/components/agent")
    assert got.status_code == 200
    assert got.json()["metadata"]["labels"] == {"scope.theriseunion.io/cluster": "host"}
    assert admin.get(f"{BASE}/namespaces/edge-system/components/base").status_code == 404


def test_a_create_takes_the_urls_namespace_and_refuses_another(admin, fleet):
    body = {"apiVersion": "ext.theriseunion.io/v1alpha1", "kind": "Component", "metadata": {"name": "mesh"},
            "spec": {"version": "2.0.0", "dependsOn": ["base"]}}
    created = admin.post(f"{BASE}/namespaces/edge-bj-01/components", body)
    assert created.status_code == 201, created.content
    assert Component.objects.get(name="mesh").cluster.name == "edge-bj-01"
    other = admin.post(f"{BASE}/namespaces/edge-bj-01/components",
                       {**body, "metadata": {"name": "other", "namespace": "edge-system"}})
    assert other.status_code == 422
    assert other.json()["details"]["causes"][0]["field"] == "metadata.namespace"
    assert admin.post(f"{BASE}/components", body).status_code == 405


def test_a_missing_dependency_is_a_422_status_naming_the_entry(admin, fleet):
    response = admin.post(f"{BASE}/namespaces/edge-system/components",
                          {"metadata": {"name": "app"}, "spec": {"dependsOn": ["agent", "base"]}})
    assert response.status_code == 422
    assert response.json()["details"]["causes"] == [{"field": "spec.dependsOn[1]", "reason": "FieldValueNotFound",
                                                     "message": 'component "base" not found in cluster "host"'}]


def test_delete_is_held_202_then_a_no_op_and_409_while_needed(admin, fleet):
    admin.patch(f"{BASE}/namespaces/edge-bj-01/components/agent", {"spec": {"dependsOn": ["base"]}})
    needed = admin.delete(f"{BASE}/namespaces/edge-bj-01/components/base")
    assert (needed.status_code, needed.json()["reason"]) == (409, "Conflict")
    assert "uninstall agent first" in needed.json()["message"]
    held = admin.delete(f"{BASE}/namespaces/edge-bj-01/components/agent")
    assert held.status_code == 202
    assert held.json()["metadata"]["deletionTimestamp"]
    again = admin.delete(f"{BASE}/namespaces/edge-bj-01/components/agent")
    assert again.status_code == 202
    assert again.json()["metadata"]["resourceVersion"] == held.json()["metadata"]["resourceVersion"]
    # the host's component of the same name is untouched
    assert Component.objects.get(namespace="edge-system", name="agent").deletion_requested is None
    # a dependent being deleted no longer holds its dependency
    assert admin.delete(f"{BASE}/namespaces/edge-bj-01/components/base").status_code == 202
