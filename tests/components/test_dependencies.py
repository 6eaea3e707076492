"""``dependsOn``: the graph (install order, dependents, cycles) and the write-time rules — a missing dependency or a
cycle is a 422 naming ``spec.dependsOn[i]``; a component others need is neither disabled nor deleted (409)."""
from __future__ import annotations

import pytest

from components import dependencies
from components.models import Component
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.errors import StatusError
from edgeplatform.resources.services import delete_object, merge_patch, save_manifest
from iam.audit.models import AuditEvent
from tests.factories import ClusterFactory, ComponentFactory


def test_install_order_puts_dependencies_first_and_breaks_ties_by_name():
    graph = {"app": ["db", "cache"], "db": ["storage"], "cache": [], "storage": [], "zeta": []}
    assert dependencies.install_order(graph) == ["cache", "storage", "db", "app", "zeta"]


def test_install_order_puts_a_cycle_written_around_the_api_last():
    assert dependencies.install_order({"a": ["b"], "b": ["a"], "c": []}) == ["c", "a", "b"]


def test_install_order_ignores_a_dependency_that_is_not_there():
    assert dependencies.install_order({"d": ["c"], "c": ["gone"]}) == ["c", "d"]


def test_dependents_direct_and_transitive():
    graph = {"app": ["db"], "db": ["storage"], "ui": ["app"], "storage": []}
    assert dependencies.dependents_of("storage", graph) == ["db"]
    assert dependencies.dependents_of("storage", graph, transitive=True) == ["app", "db", "ui"]


def test_cycle_through_finds_the_path_and_a_self_reference():
    assert dependencies.cycle_through("a", ["b"], {"b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert dependencies.cycle_through("a", ["a"], {}) == ["a", "a"]
    assert dependencies.cycle_through("a", ["b"], {"b": ["c"], "c": []}) is None





def causes(error: StatusError) -> dict:
    return {c["field"]: c["message"] for c in error.details.get("causes", [])}


def write(row, change: dict):
    converter = converter_for(row)
    return save_manifest(converter, merge_patch(converter.to_manifest(row), change), instance=row)


@pytest.fixture
def cluster(db):
    return ClusterFactory(name="edge-bj-01")


def test_a_dependency_missing_from_the_cluster_is_422_naming_its_index(cluster):
    ComponentFactory(name="storage", cluster=cluster)
    ComponentFactory(name="db", cluster=ClusterFactory(name="other"))  # the same name in another cluster
    with pytest.raises(StatusError) as caught:
        ComponentFactory(name="app", cluster=cluster, spec={"dependsOn": ["storage", "db"]})
    assert caught.value.status_code == 422
    assert causes(caught.value) == {"spec.dependsOn[1]": 'component "db" not found in cluster "edge-bj-01"'}
    assert not Component.objects.filter(name="app").exists()


def test_a_cycle_through_stored_components_is_422_with_its_path(cluster):
    a = ComponentFactory(name="a", cluster=cluster)
    ComponentFactory(name="b", cluster=cluster, spec={"dependsOn": ["a"]})
    ComponentFactory(name="c", cluster=cluster, spec={"dependsOn": ["b"]})
    with pytest.raises(StatusError) as caught:
        write(a, {"spec": {"dependsOn": ["c"]}})
    assert causes(caught.value) == {"spec.dependsOn[0]": "dependency cycle: a → c → b → a"}
    assert Component.objects.get(name="a").spec.get("dependsOn") is None


def test_a_self_reference_is_a_cycle(cluster):
    with pytest.raises(StatusError) as caught:
        ComponentFactory(name="solo", cluster=cluster, spec={"dependsOn": ["solo"]})
    assert causes(caught.value) == {"spec.dependsOn[0]": "dependency cycle: solo → solo"}


def test_disabling_a_component_others_need_is_409_naming_them(cluster):
    base = ComponentFactory(name="base", cluster=cluster)
    ComponentFactory(name="web", cluster=cluster, spec={"dependsOn": ["base"]})
    ComponentFactory(name="api", cluster=cluster, spec={"dependsOn": ["base"]})
    ComponentFactory(name="off", cluster=cluster, spec={"dependsOn": ["base"], "enabled": False})
    with pytest.raises(StatusError) as caught:
        write(base, {"spec": {"enabled": False}})
    assert (caught.value.status_code, caught.value.reason) == (409, "Conflict")
    assert "uninstall api and web first" in caught.value.message
    assert Component.objects.get(name="base").enabled is True


def test_deleting_a_component_others_need_is_409_until_they_go_first(cluster):
    base = ComponentFactory(name="base", cluster=cluster)
    web = ComponentFactory(name="web", cluster=cluster, spec={"dependsOn": ["base"]})
    converter = converter_for(base)
    with pytest.raises(StatusError) as caught:
        delete_object(converter, base)
    assert caught.value.status_code == 409 and "uninstall web first" in caught.value.message
    assert Component.objects.get(name="base").deletion_requested is None
    # WHEN the dependent is being deleted THEN the dependency may go too
    delete_object(converter, web)
    held = delete_object(converter, Component.objects.get(name="base"))
    assert held.deletion_requested is not None


def test_a_delete_is_held_audited_once_and_a_second_one_is_a_no_op(cluster):
    row = ComponentFactory(name="agent", cluster=cluster)
    converter = converter_for(row)
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    held = delete_object(converter, row)
    assert held.resource_version == row.resource_version + 1 and held.generation == row.generation
    assert converter.to_manifest(held)["metadata"]["deletionTimestamp"]
    again = delete_object(converter, held)
    assert again.resource_version == held.resource_version
    assert list(AuditEvent.objects.filter(id__gt=start, name="agent").values_list("verb", flat=True)) == ["delete"]
    # the system's final removal takes the row
    assert delete_object(converter, again, finalize=True) is None
    assert not Component.objects.filter(name="agent").exists()


def test_a_deleted_cluster_takes_its_components_at_once_each_audited(cluster):
    from clusters.services import delete_cluster

    ComponentFactory(name="base", cluster=cluster)
    ComponentFactory(name="web", cluster=cluster, spec={"dependsOn": ["base"]})
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    delete_cluster(cluster)
    assert not Component.objects.exists()
    assert sorted(AuditEvent.objects.filter(id__gt=start, kind="Component").values_list("name", "verb")) == [
        ("base", "delete"), ("web", "delete")]
