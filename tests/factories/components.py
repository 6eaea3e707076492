"""A factory of Component rows for the controller's tests: cluster, name, spec; the host namespace is the
cluster's name and the scope is the cluster's (``components.models``)."""
from __future__ import annotations

from components.models import Component

__all__ = ["component"]


def component(cluster, name: str, spec: dict | None = None, *, annotations: dict | None = None,
              status: dict | None = None) -> Component:
    """A saved Component of ``cluster`` (its custom resource would live in the namespace named after it)."""
    from tests.components.converter import ensure_registered

    ensure_registered()
    return Component.objects.create(cluster=cluster, name=name, namespace=cluster.name, spec=spec or {},
                                    annotations=annotations or {}, status=status or {},
                                    scope_path=cluster.scope_path)
