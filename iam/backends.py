"""The Scope authentication backend: ``user.has_perm(perm, obj)`` answered by the cascade.

Two spellings of a permission are understood:

* Django's ``app_label.action_model`` (``clusters.view_workspace``): the action maps to a
  Kubernetes verb (view→get, add→create, change→update, delete→delete) and the model to its
  kind's group and plural;
* Kubernetes' ``verb:group/resource`` (``get:apps/deployments``, ``list:/pods`` for the core
  group), for resources that are not platform models.

The scope is ``obj.scope_path`` (the platform when no object is given). For a Django-spelled
permission on a row of its own kind the engine also applies the rules for one object: the kind's
extra readers (the list filter's ``visible_extra``: one's own User, prototype roles, templates) and
django-guardian object grants, which it holds in the cached grants. So ``has_perm`` and
``Model.objects.restrict(user, "view")`` agree row for row, and a denial costs no query.
"""
from __future__ import annotations

from functools import lru_cache

from django.apps import apps
from guardian.backends import ObjectPermissionBackend as GuardianBackend

from edgeplatform.resources.scopes import PLATFORM
from iam.engine import engine

VERBS = {"view": "get", "add": "create", "change": "update", "delete": "delete"}


@lru_cache(maxsize=1024)
def parse_perm(perm: str) -> tuple[str, str, str] | None:
    """(verb, group, resource) for a permission string, or None when it names no platform kind."""
    if ":" in perm:
        verb, _, target = perm.partition(":")
        group, _, resource = target.rpartition("/")
        return (verb, group, resource) if verb and resource else None
    app_label, _, codename = perm.partition(".")
    action, _, model_name = codename.partition("_")
    if action not in VERBS:
        return None
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return None
    converter = getattr(model, "_converter", None)
    if converter is None:
        return None
    return VERBS[action], converter.group, converter.plural


class ScopeBackend:
    """Authorization only (it never authenticates): the five-level cascade over cached grants."""

    def authenticate(self, request, **credentials):
        """This backend does not check passwords."""
        return None

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        """The cascade's answer for ``perm`` at the scope of ``obj``."""
        if not getattr(user_obj, "is_active", False):
            return False
        parsed = parse_perm(perm)
        if parsed is None:
            return False
        verb, group, resource = parsed
        if obj is None:
            return engine.allowed(user_obj, verb, group, resource, PLATFORM)
        path = getattr(obj, "scope_path", PLATFORM) or PLATFORM
        return engine.allowed(user_obj, verb, group, resource, path, getattr(obj, "name", "") or "", obj)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        """Module access is decided per object by the console, not per app."""
        return False

    def get_user(self, user_id):
        """Not an authenticating backend."""
        return None


class ObjectPermissionBackend(GuardianBackend):
    """django-guardian's object grants (the Resource level), for Django-spelled permissions only.

    Django asks every backend until one allows, so this one runs for every denial. It answers from the
    engine's cached grants instead of guardian's two queries a call:

    * a permission on a platform kind (``clusters.view_namespace``) was answered in full by the Scope
      backend, object grants included, so this backend has nothing to add;
    * any other model: the grants' copy of the user's guardian rows (guardian itself when they hold
      more than the grants keep).

    Guardian rejects the Kubernetes spelling (``get:apps/deployments``) with an error; those
    permissions are the cascade's alone. Guardian's other methods (``get_all_permissions``, …) are its own.
    """

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        """Guardian's answer from the cached grants; False for a Kubernetes-spelled or platform-kind permission."""
        if obj is None or ":" in perm or not getattr(user_obj, "is_active", False):
            return False
        if parse_perm(perm) is not None:
            return False
        app_label, _, codename = perm.rpartition(".")
        if app_label and app_label != obj._meta.app_label:
            return super().has_perm(user_obj, perm, obj)  # guardian's own checks and errors
        return engine.object_permission(user_obj, codename, obj)
