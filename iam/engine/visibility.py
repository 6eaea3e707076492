"""Rows a kind shows to readers beyond the cascade, written once for the list filter and for one object.

A converter may say that some rows are readable to more users than their scope's bindings reach:
everyone reads their own User; whoever reads roles somewhere reads the prototype roles of that level
and the levels below, and likewise for templates. Its ``visible_extra(user, grants, verb)`` returns
those rows as ``Rows``: a few field conditions that the engine turns into a queryset filter for
``restrict()`` and tests against one object for ``has_perm``, so the two cannot disagree.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

__all__ = ["NOTHING", "Rows"]


@dataclass(frozen=True)
class Rows:
    """The rows where every field has one of its values (``Rows(pk=[7])``, ``Rows(labels__<key>=[...])``).

    A field is spelled as in a Django lookup without the ``__in``: a column, or a column and keys into
    its JSON value. No conditions at all, or a field with no values, means no rows.
    """

    conditions: tuple[tuple[str, frozenset], ...] = ()

    def __init__(self, **fields):
        object.__setattr__(self, "conditions", tuple((name, frozenset(values)) for name, values in fields.items()))

    @property
    def empty(self) -> bool:
        """True when no row can match."""
        return not self.conditions or any(not values for _, values in self.conditions)

    def q(self) -> Q:
        """The rows, as a filter."""
        if self.empty:
            return Q(pk__in=[])
        return Q(**{f"{name}__in": sorted(values, key=repr) for name, values in self.conditions})

    def matches(self, obj) -> bool:
        """True when ``obj`` is one of the rows."""
        return not self.empty and all(_value(obj, name) in values for name, values in self.conditions)


NOTHING = Rows()


def _value(obj, name: str):
    """The value a lookup path names on ``obj``: an attribute, then keys into a JSON value."""
    head, *keys = name.split("__")
    value = getattr(obj, head, None)
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    try:
        hash(value)
    except TypeError:  # a JSON list or object never equals a label value
        return None
    return value
