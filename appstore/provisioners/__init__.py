"""The provisioner registry: the built-in types and the plugins installed as packages (DESIGN §7).

A plugin is any installed distribution that declares an entry point in the group ``edgeplatform.provisioners``
whose value is a ``Provisioner`` subclass (or an instance)::

    [project.entry-points."edgeplatform.provisioners"]
    function = "edge_function_provisioner:FunctionProvisioner"

Its name is the type an Application's ``app.theriseunion.io/provisioner`` label selects. Nothing in the core
changes for a new type. A type asked for that is not known yet makes the registry read the entry points again,
so a package installed while the platform runs is found without a restart (the brief's hot-plug). A built-in
type cannot be replaced by a plugin of the same name, nor can a plugin take a built-in type's (or an earlier
plugin's) config key; such a plugin is ignored, and logged. ``types()`` and ``reload()`` read the entry points
again too (an upgraded or removed package is seen then).
"""
from __future__ import annotations

import logging
import threading
from importlib import metadata

from appstore.provisioners.base import Provisioner

__all__ = ["ENTRY_POINT_GROUP", "get", "register", "reload", "types"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "edgeplatform.provisioners"
_builtin: dict[str, Provisioner] = {}
_plugins: dict[str, Provisioner] = {}
_lock = threading.Lock()
_loaded = False


def register(provisioner_class: type[Provisioner]) -> type[Provisioner]:
    """Class decorator of the built-in types: make ``provisioner_class`` the one of its ``type``."""
    instance = provisioner_class()
    if not instance.type or not instance.config_key:
        raise ValueError(f"{provisioner_class.__name__} needs a type and a config_key")
    _builtin[instance.type] = instance
    return provisioner_class


def _load_plugins() -> None:
    """Read the entry points of ``ENTRY_POINT_GROUP`` (again): every valid one becomes a type."""
    global _loaded
    import importlib

    importlib.invalidate_caches()  # a package installed since the last read (a new sys.path entry) is seen
    found: dict[str, Provisioner] = {}
    origins: dict[str, str] = {}
    config_keys = {instance.config_key: name for name, instance in _builtin.items()}
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=_origin):
        if entry.name in _builtin:
            log.warning("provisioner plugin %s (%s) ignored: %s is a built-in type", entry.name, entry.value,
                        entry.name)
            continue
        if entry.name in found:
            log.warning("provisioner plugin %s (%s, %s) ignored: %s already provides that type", entry.name,
                        entry.value, _origin(entry), origins[entry.name])
            continue
        try:
            loaded = entry.load()
            instance = loaded() if isinstance(loaded, type) else loaded
        except Exception:
            log.exception("provisioner plugin %s (%s) could not be loaded", entry.name, entry.value)
            continue
        if not isinstance(instance, Provisioner) or not instance.config_key:
            log.warning("provisioner plugin %s (%s) ignored: not a Provisioner with a config_key", entry.name,
                        entry.value)
            continue
        if instance.config_key in config_keys:
            log.warning("provisioner plugin %s (%s) ignored: its config_key %s is the %s type's", entry.name,
                        entry.value, instance.config_key, config_keys[instance.config_key])
            continue
        instance.type = entry.name
        found[entry.name], origins[entry.name] = instance, _origin(entry)
        config_keys[instance.config_key] = entry.name
    _plugins.clear()
    _plugins.update(found)
    _loaded = True


def _origin(entry) -> str:
    """The distribution an entry point comes from (for ordering and messages)."""
    distribution = getattr(entry, "dist", None)
    return f"{distribution.name} {distribution.version}" if distribution is not None else entry.value


def reload() -> list[str]:
    """Read the installed plugins again (an upgraded or removed package too); the known types."""
    _ensure_builtins()
    with _lock:
        _load_plugins()
    return [*_builtin, *sorted(_plugins)]


def _ensure_builtins() -> None:
    from appstore.provisioners import builtin  # noqa: F401  (registers workload, helm, model)


def get(type_: str) -> Provisioner | None:
    """The provisioner of ``type_``, or None when no built-in type or installed plugin has that name."""
    _ensure_builtins()
    found = _builtin.get(type_) or _plugins.get(type_)
    if found is None:
        with _lock:
            _load_plugins()
            found = _plugins.get(type_)
    return found


def types() -> list[str]:
    """Every known type, built-in first, then the plugins installed now (sorted; read again each time, which
    costs a few milliseconds: it is asked for in messages and listings, not per request)."""
    return reload()
