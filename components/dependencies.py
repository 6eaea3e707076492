"""The ``dependsOn`` graph of one cluster's components: install order, who depends on whom, and cycles.

Components are given as a mapping of name → the names it depends on (``graph_of`` builds it from rows or
manifests), or as rows. Names a component depends on that are not in the mapping are ignored by the graph
functions: a missing dependency is a write-time 422 (``dependency_problems``), not a graph question. Everything
is deterministic (ties broken by name), so two runs over the same components answer the same order and cycle.

The write-time rules read the cluster's other components once: ``dependency_problems`` (each ``dependsOn``
entry names a component of the same cluster and closes no cycle, 422 causes naming ``spec.dependsOn[i]``) and
``refuse_if_needed`` (a component that enabled components not being deleted depend on is neither disabled nor
deleted: 409 Conflict naming them).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from edgeplatform.resources.errors import StatusError, cause

__all__ = ["blocking_dependents", "cycle_through", "dependency_problems", "dependents_of", "graph_of",
           "install_order", "refuse_if_needed"]


def graph_of(components: Iterable) -> dict[str, list[str]]:
    """name → ``spec.dependsOn`` of rows (``.name``/``.spec``) or of ``(name, dependsOn)`` pairs."""
    graph: dict[str, list[str]] = {}
    for item in components:
        if isinstance(item, tuple):
            name, depends = item
        else:
            name, depends = item.name, (item.spec or {}).get("dependsOn")
        graph[name] = [d for d in (depends or []) if isinstance(d, str)]
    return graph


def _graph(components) -> dict[str, list[str]]:
    return dict(components) if isinstance(components, Mapping) else graph_of(components)


def install_order(components) -> list[str]:
    """The names in an order where every component comes after the components it depends on (Kahn's algorithm,
    the smallest name first among those ready). Components on a cycle, and those that depend on them, come
    last in name order: a cycle is refused at write time, so meeting one here means data written around the API.
    """
    graph = _graph(components)
    waiting = {name: {d for d in depends if d in graph and d != name} for name, depends in graph.items()}
    order: list[str] = []
    ready = sorted(name for name, needs in waiting.items() if not needs)
    while ready:
        name = ready.pop(0)
        order.append(name)
        del waiting[name]
        freed = [other for other, needs in waiting.items() if name in needs and len(needs) == 1]
        for other in waiting.values():
            other.discard(name)
        ready = sorted({*ready, *freed})
    return order + sorted(waiting)


def dependents_of(name: str, components, transitive: bool = False) -> list[str]:
    """The components that name ``name`` in their ``dependsOn`` (with ``transitive``, also those that depend on
    them, and so on), sorted."""
    graph = _graph(components)
    found: set[str] = set()
    frontier = {name}
    while frontier:
        direct = {other for other, depends in graph.items() if frontier & set(depends) and other != name}
        frontier = direct - found
        found |= direct
        if not transitive:
            break
    return sorted(found)


def cycle_through(name: str, depends_on: list[str], components) -> list[str] | None:
    """The first cycle that ``name`` would close if it depended on ``depends_on`` (the other components as
    stored, ``components``): the path ``[name, …, name]``, or None. A self-reference is ``[name, name]``."""
    graph = _graph(components)
    graph[name] = list(depends_on)
    path: list[str] = [name]
    on_path = {name}
    done: set[str] = set()

    def walk(node: str) -> list[str] | None:
        for nxt in graph.get(node, ()):
            if nxt == name:
                return [*path, name]
            if nxt in on_path or nxt in done or nxt not in graph:
                continue
            path.append(nxt)
            on_path.add(nxt)
            found = walk(nxt)
            if found:
                return found
            path.pop()
            on_path.discard(nxt)
            done.add(nxt)
        return None

    return walk(name)


# --- write-time rules (they read the cluster's other components) ----------------------------------------------

def _others(cluster, exclude=None) -> list:
    from components.models import Component

    rows = Component.objects.filter(cluster=cluster).only("name", "spec", "enabled", "deletion_requested")
    return list(rows.exclude(pk=exclude.pk) if exclude is not None else rows)


def dependency_problems(name: str, cluster, depends_on: list[str], exclude=None) -> list[dict]:
    """422 causes for a component ``name`` of ``cluster`` that would depend on ``depends_on`` (``exclude``: its
    stored row, replaced by this write): each entry must name another component of the cluster, and none may
    close a cycle through the stored components' ``dependsOn`` (a self-reference is one)."""
    others = _others(cluster, exclude)
    graph = graph_of(others)
    problems = []
    for index, dependency in enumerate(depends_on):
        where = f"spec.dependsOn[{index}]"
        if dependency != name and dependency not in graph:
            problems.append(cause(where, f'component "{dependency}" not found in cluster "{cluster.name}"',
                                  "FieldValueNotFound"))
            continue
        cycle = cycle_through(name, [dependency], graph)
        if cycle:
            problems.append(cause(where, f"dependency cycle: {' → '.join(cycle)}"))
    return problems


def blocking_dependents(component) -> list[str]:
    """The enabled components of the same cluster, not being deleted, that depend on ``component``, sorted."""
    return sorted(row.name for row in _others(component.cluster, component)
                  if row.enabled and row.deletion_requested is None
                  and component.name in ((row.spec or {}).get("dependsOn") or []))


def refuse_if_needed(converter, component, verb: str) -> None:
    """Raise 409 Conflict when components still need ``component`` (``verb``: disable or delete)."""
    needed_by = blocking_dependents(component)
    if not needed_by:
        return
    names = needed_by[0] if len(needed_by) == 1 else f"{', '.join(needed_by[:-1])} and {needed_by[-1]}"
    where = "spec.enabled" if verb == "disable" else "metadata.name"
    raise StatusError(409, f'cannot {verb} component "{component.name}": {", ".join(needed_by)} depend on it; '
                           f"uninstall {names} first", "Conflict", kind=converter.plural, name=component.name,
                      group=converter.group,
                      causes=[cause(where, f'component "{other}" depends on it', "FieldValueForbidden")
                              for other in needed_by])
