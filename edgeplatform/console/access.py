"""What the console may show a user, asked of the one permission engine (``edgeplatform.authz``).

Nothing here has rules of its own: each function is a question to the engine the API uses,
so a page, a button and the API answer alike. Where a page names uiPermissions (``ui``), the
console also asks for one of them in force where the engine grants the verb: a role's templates
carry both, and the uiPermissions say which of the granted pages and buttons the console offers.
"""
from __future__ import annotations

from edgeplatform import authz
from edgeplatform.resources.scopes import PLATFORM

__all__ = ["grants", "holds", "may", "may_at", "may_somewhere"]


def grants(user) -> authz.Grants | None:
    """The engine's compiled grants of ``user`` (None when anonymous)."""
    return authz.authorizer().grants(user)


def holds(held, wanted) -> bool:
    """True when the uiPermissions ``held`` include one of ``wanted`` (``*``: a platform administrator)."""
    return "*" in held or not held.isdisjoint(wanted)


def may_somewhere(user, verb: str, converter, ui: tuple = ()) -> bool:
    """True when ``user`` holds ``verb`` on the converter's kind at some scope (page and "Add" visibility).

    With ``ui``, one of those uiPermissions must be in force at such a scope too (bound there or above).
    """
    found = grants(user)
    if found is None or not found.active:
        return False
    if found.superuser:
        return True
    paths = found.paths_allowing(verb, converter.group, converter.plural)
    if not ui:
        return bool(paths)
    return any(holds(found.ui_permissions(path), ui) for path in paths)


def may(user, verb: str, obj, ui: tuple = ()) -> bool:
    """May ``user`` do ``verb`` on the stored object ``obj`` (at its scope, or by an object grant)?

    With ``ui``, a grant at the object's scope counts only with one of those uiPermissions in force there.
    A grant on the object itself (the Resource level) carries no uiPermissions and stands on its own.
    """
    converter = obj._converter
    path = obj.scope_path or PLATFORM
    engine = authz.authorizer()
    if ui and engine.allowed(user, verb, converter.group, converter.plural, path, obj.name):
        return holds(engine.ui_permissions(user, path), ui)
    return engine.allowed(user, verb, converter.group, converter.plural, path, obj.name, obj)


def may_at(user, verb: str, converter, path: str, name: str = "") -> bool:
    """May ``user`` do ``verb`` on the converter's kind at scope ``path``?"""
    return authz.authorizer().allowed(user, verb, converter.group, converter.plural, path, name)
