"""The Component converter: which cluster a manifest belongs to (the host namespace mapping), what the platform
shows back, and the reference's manifests accepted unchanged."""
from __future__ import annotations

import pytest

from components.models import Component
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.errors import StatusError
from edgeplatform.resources.services import save_manifest
from tests.factories import ClusterFactory, ComponentFactory, UserFactory

pytestmark = pytest.mark.django_db
API_VERSION = "ext.theriseunion.io/v1alpha1"
CLUSTER_LABEL = "scope.theriseunion.io/cluster"

#: a Component as the reference implementation's users write it (edge-controller/templates/components/)
REFERENCE = {
    "apiVersion": API_VERSION, "kind": "Component",
    "metadata": {"name": "edge-monitoring", "namespace": "edge-system",
                 "annotations": {"ext.theriseunion.io/skip-reconcile": "true"}},
    "spec": {"enabled": True, "version": "0.1.0",
             "chart": {"name": "edge-monitoring", "namespace": "edge-system", "releaseName": "edge-monitoring",
                       "repository": "http://chartmuseum.edge-system.svc:8080"},
             "values": {"prometheus": {"enabled": True, "retention": "15d"}, "replicas": 1}},
}


def converter():
    return converter_for(Component)


def save(manifest, **kwargs):
    return save_manifest(converter(), manifest, **kwargs)


def causes(error: StatusError) -> dict:
    return {c["field"]: c["message"] for c in error.details.get("causes", [])}


@pytest.fixture
def host():
    return ClusterFactory(name="host", labels={"cluster.theriseunion.io/role": "host"})


def test_a_reference_manifest_in_edge_system_lands_on_the_host_cluster_unchanged(host):
    # GIVEN a host cluster and a member
    ClusterFactory(name="edge-bj-01")
    # WHEN the reference's manifest is written as it is
    row = save(REFERENCE)
    # THEN it belongs to the host, keeps its namespace, and its spec means what it meant
    assert (row.cluster.name, row.namespace, row.scope_path) == ("host", "edge-system", "clusters/host")
    shown = converter().to_manifest(row)
    assert shown["metadata"]["namespace"] == "edge-system"
    assert shown["metadata"]["labels"] == {CLUSTER_LABEL: "host"}
    assert shown["metadata"]["annotations"] == REFERENCE["metadata"]["annotations"]
    assert shown["spec"] == REFERENCE["spec"]
    assert "deletionTimestamp" not in shown["metadata"]


def test_a_namespace_that_names_a_cluster_puts_the_component_in_it(host):
    ClusterFactory(name="edge-bj-01")
    row = save({**REFERENCE, "metadata": {"name": "edge-monitoring", "namespace": "edge-bj-01"}})
    assert (row.cluster.name, row.namespace) == ("edge-bj-01", "edge-bj-01")
    # the same name in another cluster's namespace does not collide
    assert Component.objects.filter(name="edge-monitoring").count() == 1
    save(REFERENCE)
    assert sorted(Component.objects.values_list("namespace", "cluster__name")) == [
        ("edge-bj-01", "edge-bj-01"), ("edge-system", "host")]


def test_the_cluster_label_alone_names_the_namespace():
    ClusterFactory(name="edge-sh-02")
    row = save({"apiVersion": API_VERSION, "kind": "Component",
                "metadata": {"name": "agent", "labels": {CLUSTER_LABEL: "edge-sh-02", "team": "ops"}}})
    assert (row.cluster.name, row.namespace, row.labels) == ("edge-sh-02", "edge-sh-02", {"team": "ops"})


def test_a_label_that_disagrees_with_the_namespace_is_422(host):
    ClusterFactory(name="edge-bj-01")
    with pytest.raises(StatusError) as caught:
        save({**REFERENCE, "metadata": {"name": "x", "namespace": "edge-system",
                                        "labels": {CLUSTER_LABEL: "edge-bj-01"}}})
    assert caught.value.status_code == 422
    assert "belongs to cluster \"host\"" in causes(caught.value)[f"metadata.labels[{CLUSTER_LABEL}]"]


def test_without_a_host_cluster_a_namespace_naming_no_cluster_is_422():
    with pytest.raises(StatusError) as caught:
        save(REFERENCE)
    assert caught.value.status_code == 422
    assert "no host cluster" in causes(caught.value)["metadata.namespace"]
    assert not Component.objects.exists()


def test_a_cluster_the_caller_may_not_know_reads_as_a_missing_one(host):
    ClusterFactory(name="secret-site")
    nobody = UserFactory(name="nobody")
    answers = []
    for cluster in ("secret-site", "no-such-site"):
        with pytest.raises(StatusError) as caught:
            save({"apiVersion": API_VERSION, "kind": "Component",
                  "metadata": {"name": "x", "labels": {CLUSTER_LABEL: cluster}}}, user=nobody)
        answers.append((caught.value.status_code, causes(caught.value)[f"metadata.labels[{CLUSTER_LABEL}]"]
                        .replace(cluster, "<c>")))
    assert answers[0] == answers[1] == (422, 'cluster "<c>" not found')


def test_the_cluster_and_namespace_are_immutable(host):
    ClusterFactory(name="edge-bj-01")
    row = save(REFERENCE)
    moved = converter().to_manifest(row)
    moved["metadata"]["namespace"] = "edge-bj-01"
    with pytest.raises(StatusError) as caught:
        save(moved, instance=row)
    assert causes(caught.value)["metadata.namespace"] == "is immutable"


def test_a_bad_spec_names_the_field(host):
    bad = {**REFERENCE, "spec": {"chart": {"repository": "ftp://x"}, "values": [1], "dependsOn": ["a", "a"]}}
    with pytest.raises(StatusError) as caught:
        save(bad)
    assert {"spec.chart.repository", "spec.values", "spec.dependsOn"} <= set(causes(caught.value))


def test_the_factory_makes_a_component_in_its_clusters_namespace():
    row = ComponentFactory(cluster__name="c9")
    assert (row.cluster.name, row.namespace, row.spec) == ("c9", "c9", {"enabled": True, "version": "1.0.0"})


def test_applying_a_manifest_replaces_the_component_of_its_namespace_only(host):
    from edgeplatform.resources.loader import apply

    ClusterFactory(name="edge-bj-01")
    site = ComponentFactory(name="edge-monitoring", cluster="edge-bj-01")
    apply([REFERENCE])  # the host's: a new one beside the member's
    apply([{**REFERENCE, "spec": {**REFERENCE["spec"], "version": "0.2.0"}}])  # replaces the host's
    assert sorted(Component.objects.values_list("namespace", "spec__version")) == [
        ("edge-bj-01", "1.0.0"), ("edge-system", "0.2.0")]
    site.refresh_from_db()
    assert site.resource_version == 1
