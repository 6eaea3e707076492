"""What the console may show a user, asked of the one permission engine (``edgeplatform.authz``).

Nothing here has rules of its own: each function is a question to the engine the API uses,
so a page, a button and the API answer alike.
"""
from __future__ import annotations

from edgeplatform import authz
from edgeplatform.resources.scopes import PLATFORM

__all__ = ["grants", "has_ui", "may", "may_at", "may_somewhere", "ui_permissions_anywhere"]


def grants(user):
    """The engine's compiled grants of ``user`` (None when anonymous)."""
    return authz.authorizer().grants(user)


def may_somewhere(user, verb: str, converter) -> bool:
    """True when ``user`` holds ``verb`` on the converter's kind at some scope (page and "Add" visibility)."""
    found = grants(user)
    if found is None or not found.active:
        return False
    if found.superuser:
        return True
    return bool(authz.authorizer().levels_allowing(user, verb, converter.group, converter.plural))


def may(user, verb: str, obj) -> bool:
    """May ``user`` do ``verb`` on the stored object ``obj`` (at its scope, or by an object grant)?"""
    converter = obj._converter
    return authz.authorizer().allowed(user, verb, converter.group, converter.plural, obj.scope_path or PLATFORM,
                                      obj.name, obj)


def may_at(user, verb: str, converter, path: str, name: str = "") -> bool:
    """May ``user`` do ``verb`` on the converter's kind at scope ``path``?"""
    return authz.authorizer().allowed(user, verb, converter.group, converter.plural, path, name)


def ui_permissions_anywhere(user) -> frozenset:
    """Every uiPermission ``user`` holds at any of their bound scopes (``*`` for a platform admin)."""
    found = grants(user)
    if found is None or not found.active:
        return frozenset()
    if found.superuser:
        return frozenset({"*"})
    out: set = set()
    for path in found.ui_by_path:
        out |= authz.authorizer().ui_permissions(user, path)
    return frozenset(out)


def has_ui(user, *wanted: str) -> bool:
    """True when ``user`` holds any of the ``wanted`` uiPermissions at some scope."""
    held = ui_permissions_anywhere(user)
    return "*" in held or any(w in held for w in wanted)
