"""Which repositories exist and who may do what in them, asked of the permission engine (``edgeplatform.authz``).

A cluster's repository is named after the cluster and lives at the cluster's scope; ``library`` lives at the
platform. The object the engine is asked about is the repository (resource ``charts``, name: the repository's), so a
rule can name ``library`` alone (``resourceNames``) without reaching, from the platform, every cluster's.

Verbs: ``get`` (``index.yaml``, downloads, one chart), ``list`` (the API's list of charts), ``create`` (upload),
``update`` (overwrite an existing version with ``?force``), ``delete``.
"""
from __future__ import annotations

from edgeplatform import authz
from edgeplatform.resources import scopes

from .models import LIBRARY

__all__ = ["GROUP", "RESOURCE", "allowed", "readable", "scope_path"]

GROUP = "ext.theriseunion.io"
RESOURCE = "charts"


def scope_path(repository: str) -> str | None:
    """The scope path of ``repository`` (``platform`` for ``library``), None when no such repository exists."""
    if repository == LIBRARY:
        return scopes.PLATFORM
    return scopes.resolve("cluster", repository)


def allowed(user, verb: str, repository: str, path: str) -> bool:
    """May ``user`` do ``verb`` on charts in ``repository`` (at scope ``path``)?"""
    return authz.authorizer().allowed(user, verb, GROUP, RESOURCE, path, repository)


def readable(user) -> list[tuple[str, str]]:
    """(repository, scope path) of every repository ``user`` may read, ``library`` first then by cluster name."""
    found = [(LIBRARY, scopes.PLATFORM)] if allowed(user, "get", LIBRARY, scopes.PLATFORM) else []
    clusters = scopes.scope_model("cluster").objects.order_by("name").values_list("name", "scope_path")
    return found + [(name, path) for name, path in clusters if name != LIBRARY and allowed(user, "get", name, path)]
