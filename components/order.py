"""The order components install in: dependencies first (``spec.dependsOn``, names of components of one cluster).

``install_order`` is a topological sort (Kahn's, ties broken by name so the order is stable); a dependency that
is not among the components given is ignored here (the write path refuses it), and components caught in a cycle
(also refused when written) come last, by name, so a caller never loops. ``dependents_of`` answers the reverse
question: what must wait for (or be queued after) a component.
"""
from __future__ import annotations

import heapq

__all__ = ["dependencies_of", "dependents_of", "install_order"]


def dependencies_of(component) -> list[str]:
    """The names a component's spec depends on (``spec.dependsOn``), in the order written."""
    names = (component.spec or {}).get("dependsOn") or []
    return [name for name in names if isinstance(name, str)]


def install_order(components) -> list:
    """``components`` (of one cluster) with every component after the ones it depends on."""
    by_name = {component.name: component for component in components}
    waiting = {name: {dep for dep in dependencies_of(component) if dep in by_name and dep != name}
               for name, component in by_name.items()}
    dependents: dict[str, list[str]] = {name: [] for name in by_name}
    for name, deps in waiting.items():
        for dep in deps:
            dependents[dep].append(name)
    ready = [name for name, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    out = []
    while ready:
        name = heapq.heappop(ready)
        out.append(by_name[name])
        for dependent in dependents[name]:
            waiting[dependent].discard(name)
            if not waiting[dependent]:
                heapq.heappush(ready, dependent)
    placed = {component.name for component in out}
    return out + sorted((c for c in by_name.values() if c.name not in placed), key=lambda c: c.name)


def dependents_of(component, components) -> list:
    """The components among ``components`` that depend on ``component``, directly or through others, in install
    order."""
    by_name = {c.name: c for c in components}
    found: set[str] = set()
    frontier = [component.name]
    while frontier:
        name = frontier.pop()
        for other in by_name.values():
            if other.name not in found and other.name != component.name and name in dependencies_of(other):
                found.add(other.name)
                frontier.append(other.name)
    return [c for c in install_order(by_name.values()) if c.name in found]
