"""Install order of a cluster's components: dependencies first, stable by name, never looping on a cycle."""
from __future__ import annotations

from types import SimpleNamespace

from components.order import dependents_of, install_order


def comp(name: str, *depends: str):
    return SimpleNamespace(name=name, spec={"dependsOn": list(depends)} if depends else {})


def names(items) -> list[str]:
    return [item.name for item in items]


def test_dependencies_come_first_and_ties_go_by_name():
    fleet = [comp("web", "db", "cache"), comp("db", "storage"), comp("cache"), comp("storage"), comp("agent")]
    assert names(install_order(fleet)) == ["agent", "cache", "storage", "db", "web"]


def test_a_missing_dependency_is_ignored_and_a_cycle_comes_last_without_looping():
    fleet = [comp("b", "a"), comp("a", "b"), comp("c", "gone"), comp("d", "c")]
    assert names(install_order(fleet)) == ["c", "d", "a", "b"]


def test_dependents_of_a_component_directly_or_through_others_in_install_order():
    fleet = [comp("c", "b"), comp("b", "a"), comp("a"), comp("x", "a"), comp("y")]
    assert names(dependents_of(fleet[2], fleet)) == ["b", "c", "x"]
    assert dependents_of(fleet[4], fleet) == []
