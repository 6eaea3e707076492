"""The seam between shared code and the permission engine.

Shared code (querysets, API views) asks this module; the iam app plugs its engine in
at start-up. Apps depend on ``edgeplatform``, never the reverse, so the engine is
registered rather than imported.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from django.db.models import Q

__all__ = ["Authorizer", "Grants", "authorizer", "known_scope", "may_know_scope", "register", "scope_members"]


@runtime_checkable
class Grants(Protocol):
    """One user's compiled grants, as the console reads them (which pages, buttons and scopes to offer)."""

    #: False for a disabled user: nothing is allowed
    active: bool
    #: a platform administrator: everything is allowed
    superuser: bool
    #: the scopes where the user (or a group of theirs) holds a binding, by path
    by_path: Mapping[str, object]

    def paths_allowing(self, verb: str, group: str, resource: str) -> list[str]:
        """Every bound scope where ``verb`` on ``group/resource`` is granted."""

    def ui_permissions(self, path: str) -> frozenset:
        """The uiPermissions in force at ``path``: bound there or at a scope above it."""


@runtime_checkable
class Authorizer(Protocol):
    """What the rest of the platform needs from the permission engine: the write path, querysets, the API views
    and the console ask only this."""

    def allowed(self, user, verb: str, group: str, resource: str, path: str, name: str = "", obj=None) -> bool:
        """May ``user`` do ``verb`` on ``group/resource`` (object ``name``, row ``obj``) at scope ``path``?"""

    def visible_q(self, user, verb: str, model) -> Q | None:
        """A filter on ``model`` selecting the rows ``user`` may ``verb``; None means all rows."""

    def knows_scope(self, user, path: str) -> bool:
        """May ``user`` learn that the scope at ``path`` exists (else it is answered as missing)?"""

    def grants(self, user) -> Grants | None:
        """The compiled grants of an authenticated user (None for anonymous)."""

    def ui_permissions(self, user, path: str) -> frozenset:
        """The uiPermissions ``user`` has at scope ``path`` (``{"*"}`` for a platform administrator)."""


_authorizer: Authorizer | None = None


def register(authorizer: Authorizer) -> None:
    """Install the engine (done by the iam app's ``ready()``)."""
    global _authorizer
    _authorizer = authorizer


def authorizer() -> Authorizer:
    """The installed engine."""
    if _authorizer is None:
        raise RuntimeError("no permission engine registered: is the iam app installed?")
    return _authorizer


def may_know_scope(user, path: str | None) -> bool:
    """True when ``path`` names a scope that ``user`` may learn exists; ``user=None`` is the system."""
    if path is None:
        return False
    return user is None or authorizer().knows_scope(user, path)


def known_scope(user, level: str, value: str | None, cluster: str | None = None) -> str | None:
    """The path of the scope named by scope labels that ``user`` may learn of, or None (missing or hidden alike).

    A namespace or node named without its cluster is the only one of that name ``user`` may learn of: a namesake
    in a cluster hidden from them neither makes the name ambiguous nor gives itself away.
    """
    from edgeplatform.resources import scopes

    if level in scopes.CLUSTER_QUALIFIED and not cluster:
        known = [path for path in scopes.scope_model(level).objects.filter(name=value)
                 .values_list("scope_path", flat=True).order_by("scope_path") if may_know_scope(user, path)]
        return known[0] if len(known) == 1 else None
    path = scopes.resolve(level, value, cluster or None)
    return path if may_know_scope(user, path) else None


def scope_members(path: str) -> int | None:
    """How many subjects are bound at exactly the scope ``path`` (a workspace's or node group's
    ``memberCount``); None when the installed engine cannot say."""
    counter = getattr(authorizer(), "scope_members", None) if _authorizer is not None else None
    return counter(path) if counter is not None else None
