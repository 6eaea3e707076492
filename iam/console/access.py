"""What the pages of access administration (templates, roles, bindings, categories) share."""
from __future__ import annotations

from edgeplatform.console import access
from edgeplatform.console.options import ManifestAdmin
from edgeplatform.resources import scopes
from iam.manifests import ROLE_LEVELS
from iam.models import IAMRoleBinding

__all__ = ["LEVEL_CHOICES", "AccessAdmin"]

LEVEL_CHOICES = [(level, level) for level in ROLE_LEVELS]


class AccessAdmin(ManifestAdmin):
    """Pages of access administration (templates, roles, bindings, categories).

    Shown to those who administer access — who may create bindings somewhere, or read the kind at platform
    scope — and not to those whose roles merely let them read their own scope's roles and members (a
    workspace viewer): the API still answers them, the console keeps its IAM section for administrators.
    """

    def _administers(self, request) -> bool:
        return (access.may_somewhere(request.user, "create", IAMRoleBinding._converter)
                or access.may_at(request.user, "list", self.converter, scopes.PLATFORM))

    def has_module_permission(self, request):
        """In the menu only for administrators of access."""
        return self._administers(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        """Pages only for administrators of access."""
        return self._administers(request) and super().has_view_permission(request, obj)
