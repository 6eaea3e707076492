"""The roles page: a role's level, the templates it aggregates and rules of its own."""
from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count

from edgeplatform.console.fields import YamlListField
from edgeplatform.console.forms import ManifestForm, get_path, set_path
from edgeplatform.console.options import ui_table
from edgeplatform.console.site import console
from edgeplatform.resources.names import SCOPE_LABEL, SCOPE_VALUE_LABEL
from iam.console.access import LEVEL_CHOICES, AccessAdmin
from iam.models import IAMRole, RoleTemplate

__all__ = ["ROLES_UI", "RoleAdmin", "RoleForm"]

#: uiPermissions of the roles page (docs/builtin-roles.md)
ROLES_UI = ui_table(view=("platform/roles.view", "cluster/roles.view", "workspace/roles.view", "nodegroup/members.view",
                          "project/members.view"),
                    manage=("platform/roles.manage", "cluster/roles.manage", "workspace/roles.manage"))


class RoleForm(ManifestForm):
    """A role: name, level, the templates it aggregates and rules of its own (YAML)."""

    name = forms.CharField(max_length=253)
    level = forms.ChoiceField(choices=LEVEL_CHOICES)
    templates = forms.MultipleChoiceField(required=False, choices=(), widget=forms.SelectMultiple(attrs={"size": 12}))
    rules = YamlListField(required=False, help_text="Rules of its own, besides the templates'.")
    field_map = {"metadata.name": "name", f"metadata.labels[{SCOPE_LABEL}]": "level",
                 "spec.aggregationRoleTemplates": "templates", "spec.rules": "rules"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = RoleTemplate.objects.restrict(self.request.user, "list").values_list("name", flat=True)
        self.fields["templates"].choices = [(n, n) for n in names]

    def initial_from(self, manifest):
        """Form values from the manifest."""
        return {"level": get_path(manifest, ("metadata", "labels", SCOPE_LABEL), ""),
                "templates": get_path(manifest, ("spec", "aggregationRoleTemplates", "templateNames"), []),
                "rules": get_path(manifest, ("spec", "rules"), [])}

    def overlay(self, manifest, data):
        """Form values into the manifest (a label selector, if any, is kept)."""
        if "name" in data:
            manifest["metadata"]["name"] = data["name"]
        labels = manifest["metadata"].setdefault("labels", {})
        labels[SCOPE_LABEL] = data["level"]
        if data["level"] == "platform":
            labels[SCOPE_VALUE_LABEL] = "global"
        set_path(manifest, ("spec", "aggregationRoleTemplates", "templateNames"), list(data.get("templates") or []))
        set_path(manifest, ("spec", "rules"), data.get("rules"))


@admin.register(IAMRole, site=console)
class RoleAdmin(AccessAdmin):
    """Roles."""

    form = RoleForm
    fields = ("name", "level", "templates", "rules")
    page_ui = ROLES_UI
    readonly_on_change = ("name", "level")
    list_display = ("name", "scope_level", "scope_value", "builtin", "members", "yaml_link")
    list_filter = ("scope_level", "builtin")

    def get_queryset(self, request):
        """Visible roles with their subject counts (one query)."""
        return super().get_queryset(request).annotate(_members=Count("bindings__subject_rows__name", distinct=True))

    @admin.display(description="members")
    def members(self, obj):
        """Distinct subjects bound to the role."""
        return obj._members

    def level(self, obj):
        """Read-only view of the level."""
        return obj.scope_level

    def templates(self, obj):
        """Read-only view of the aggregated templates."""
        return ", ".join((obj.spec or {}).get("aggregatedRoleTemplates") or [])

    def rules(self, obj):
        """Read-only view of the effective rules."""
        return f"{len(obj.effective_rules or [])} effective rule(s)"
