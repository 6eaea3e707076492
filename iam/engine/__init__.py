"""The permission engine: one resolver behind ``user.has_perm``, list filters, uiPermissions and access reviews.

Every surface asks this object (DESIGN §3): the Scope authentication backend, the
``restrict()`` querysets, the API's write checks, the console and SubjectAccessReview.
"""
from __future__ import annotations

import time

from django.db.models import Q

from edgeplatform.resources.scopes import PLATFORM, is_within, level_of, name_of, scope_model
from iam.engine import grants as grants_mod
from iam.engine import objects
from iam.engine.cache import GrantCache

__all__ = ["Engine", "engine"]


def _path_q(paths, level: str = "") -> Q:
    """Rows at one of ``paths`` or below one: a single ``IN`` and one prefix test a path, built flat (OR-ing Q
    objects one by one copies the whole tree each time, and every term is one more lookup to compile).

    ``level`` is the scope level of the rows when they are scope objects (a workspace's path is a workspace path):
    nothing of a level lies below a scope of the same level, so paths of that level need no prefix test.
    """
    paths = sorted(set(paths))
    if not paths:
        return Q()
    below = [path for path in paths if not level or level_of(path) != level]
    return Q(("scope_path__in", paths), *(("scope_path__startswith", path + "/") for path in below), _connector=Q.OR)


class Engine:
    """Answers (user, verb, group, resource, scope) with the cascade over cached grants."""

    def __init__(self):
        self.cache = GrantCache()
        self.observe = None  # set by metrics: callable(seconds) for check latency
        self.sample_every = 16  # time one check in this many (a power of two)
        self._checks = 0

    def grants(self, user) -> grants_mod.Grants | None:
        """The grants of an authenticated user (None for anonymous)."""
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        return self.cache.get(user.pk)

    def allowed(self, user, verb: str, group: str, resource: str, path: str = PLATFORM, name: str = "",
                obj=None) -> bool:
        """May ``user`` do ``verb`` on ``group/resource`` (object ``name``) at scope ``path``?

        With ``obj``, a row of the kind ``group/resource`` names, the rules for one object also allow: the
        kind's own readers (``visible_extra``, as the list filter applies it) and a django-guardian grant
        on that very object (the Resource level).
        """
        self._checks += 1
        timed = self.observe is not None and not self._checks & (self.sample_every - 1)
        started = time.perf_counter() if timed else 0.0
        found = self.grants(user)
        result = found is not None and found.allows(verb, group, resource, path, name)
        if not result and obj is not None and found is not None and found.active:
            result = _allows_object(user, found, verb, group, resource, obj)
        if timed:
            self.observe(time.perf_counter() - started)
        return result

    def object_permission(self, user, codename: str, obj) -> bool:
        """Does ``user`` hold the django-guardian permission ``codename`` on ``obj`` (any model)?

        Answered from the cached grants (no query), as guardian's backend would answer it: a superuser
        holds everything, a disabled user nothing.
        """
        found = self.grants(user)
        if found is None or not found.active:
            return False
        return found.superuser or objects.held(found, user, codename, obj)

    def ui_permissions(self, user, path: str = PLATFORM) -> frozenset:
        """The uiPermissions ``user`` has at scope ``path`` (cascading from above)."""
        found = self.grants(user)
        if found is None or not found.active:
            return frozenset()
        if found.superuser:
            return frozenset({"*"})
        return found.ui_permissions(path)

    def visible_q(self, user, verb: str, model) -> Q | None:
        """A filter on ``model`` for the rows ``user`` may ``verb``; None means every row.

        ``verb`` is a Kubernetes verb or a Django action (``view``, ``add``, ``change``, ``delete``). A row is
        in the filter exactly when ``allowed(..., obj=row)`` is true for it.
        """
        verb = ACTION_VERBS.get(verb, verb)
        found = self.grants(user)
        if found is None or not found.active:
            return Q(pk__in=[])
        if found.superuser:
            return None
        converter = model._converter
        paths = found.paths_allowing(verb, converter.group, converter.plural)
        if PLATFORM in paths:
            return None
        level = getattr(model, "level", "")
        q = _path_q(paths, level)
        for path, names in found.named_grants(verb, converter.group, converter.plural):
            q |= _path_q([path], level) & Q(name__in=names)
        extra = _extra_rows(converter, user, found, verb)
        if extra is not None:
            q |= extra.q()
        action = DJANGO_ACTIONS.get(verb)
        granted = objects.rows_q(found, user, f"{action}_{model._meta.model_name}", model) if action else None
        if granted is not None:
            q |= granted
        return q if q else Q(pk__in=[])

    def knows_scope(self, user, path: str) -> bool:
        """May ``user`` learn that the scope at ``path`` exists?

        Yes when they hold a binding on its chain (the scope itself or one enclosing it) or below it,
        or a grant to get the scope object. Otherwise a reference to it is answered exactly as one to
        a scope that does not exist, so that a member of one workspace cannot probe another's names.
        """
        found = self.grants(user)
        if found is None or not found.active:
            return False
        if found.superuser or path == PLATFORM:
            return True
        if any(is_within(bound, path) or is_within(path, bound) for bound in found.by_path):
            return True
        converter = scope_model(level_of(path))._converter
        return found.allows("get", converter.group, converter.plural, path, name_of(path))

    def levels_allowing(self, user, verb: str, group: str, resource: str) -> set[str]:
        """The scope levels at which ``user`` holds the grant somewhere (for level-wide objects)."""
        found = self.grants(user)
        if found is None or not found.active:
            return set()
        return {level_of(path) for path in found.paths_allowing(verb, group, resource)}

    def scope_members(self, path: str) -> int:
        """How many distinct subjects (users, groups, service accounts) are bound at exactly ``path``: a scope's
        ``memberCount``."""
        from iam.models import BindingSubject

        return BindingSubject.objects.filter(binding__scope_path=path).values("kind", "name", "namespace") \
            .distinct().count()


DJANGO_ACTIONS = {"get": "view", "list": "view", "watch": "view", "create": "add", "update": "change",
                  "patch": "change", "delete": "delete", "deletecollection": "delete"}
#: Django's actions as the verbs they stand for (``restrict(user, "view")``)
ACTION_VERBS = {"view": "get", "add": "create", "change": "update"}
#: the verbs a kind's ``visible_extra`` answers: it widens who may read, never who may write
READ_VERBS = frozenset({"get", "list", "watch"})


def _extra_rows(converter, user, found, verb: str):
    """The rows the kind shows ``user`` beyond the cascade (``visible_extra``), or None."""
    extra = getattr(converter, "visible_extra", None)
    if extra is None or verb not in READ_VERBS:
        return None
    return extra(user, found, verb)


def _allows_object(user, found, verb: str, group: str, resource: str, obj) -> bool:
    """The rules for one object of the kind ``group/resource``: the kind's extra readers, then guardian."""
    converter = getattr(obj, "_converter", None)
    if converter is None or converter.group != group or converter.plural != resource:
        return False  # e.g. pods of a namespace: a grant on the namespace is not one on its pods
    extra = _extra_rows(converter, user, found, verb)
    if extra is not None and extra.matches(obj):
        return True
    action = DJANGO_ACTIONS.get(verb)
    return action is not None and objects.held(found, user, f"{action}_{obj._meta.model_name}", obj)


engine = Engine()
