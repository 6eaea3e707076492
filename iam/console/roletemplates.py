"""The role templates page: a template's level, rules (YAML) and uiPermissions."""
from __future__ import annotations

from django import forms
from django.contrib import admin

from edgeplatform.console.fields import NameListField, YamlListField
from edgeplatform.console.forms import ManifestForm, get_path, set_path
from edgeplatform.console.options import ui_table
from edgeplatform.console.site import console
from edgeplatform.resources.names import SCOPE_LABEL
from iam.console.access import LEVEL_CHOICES, AccessAdmin
from iam.models import BUILTIN_LABEL, RoleTemplate

__all__ = ["RoleTemplateAdmin", "RoleTemplateForm"]


class RoleTemplateForm(ManifestForm):
    """A role template: name, level, rules (YAML) and uiPermissions."""

    name = forms.CharField(max_length=253)
    level = forms.ChoiceField(choices=LEVEL_CHOICES)
    rules = YamlListField(required=False, help_text="Kubernetes PolicyRules: apiGroups, resources, verbs, "
                                                    "resourceNames.")
    ui_permissions = NameListField(required=False, label="uiPermissions",
                                   help_text="Such as platform/clusters.view, separated by spaces.")
    field_map = {"metadata.name": "name", f"metadata.labels[{SCOPE_LABEL}]": "level", "spec.rules": "rules",
                 "spec.uiPermissions": "ui_permissions"}

    def initial_from(self, manifest):
        """Form values from the manifest."""
        return {"level": get_path(manifest, ("metadata", "labels", SCOPE_LABEL), ""),
                "rules": get_path(manifest, ("spec", "rules"), []),
                "ui_permissions": get_path(manifest, ("spec", "uiPermissions"), [])}

    def overlay(self, manifest, data):
        """Form values into the manifest."""
        if "name" in data:
            manifest["metadata"]["name"] = data["name"]
        manifest["metadata"].setdefault("labels", {})[SCOPE_LABEL] = data["level"]
        manifest["spec"]["rules"] = data.get("rules") or []
        set_path(manifest, ("spec", "uiPermissions"), data.get("ui_permissions"))


@admin.register(RoleTemplate, site=console)
class RoleTemplateAdmin(AccessAdmin):
    """Role templates."""

    form = RoleTemplateForm
    fields = ("name", "level", "rules", "ui_permissions")
    page_ui = ui_table(view=("platform/roles.view", "workspace/roles.view"), manage=("platform/roles.manage",))
    list_display = ("name", "template_level", "builtin", "ui", "yaml_link")

    @admin.display(description="level")
    def template_level(self, obj):
        """The level label."""
        return obj.labels.get(SCOPE_LABEL, "")

    @admin.display(description="built-in", boolean=True)
    def builtin(self, obj):
        """Shipped with the platform."""
        return obj.labels.get(BUILTIN_LABEL) == "true"

    @admin.display(description="uiPermissions")
    def ui(self, obj):
        """The template's uiPermissions."""
        return ", ".join((obj.spec or {}).get("uiPermissions") or [])

    def level(self, obj):
        """Read-only view of the level."""
        return self.template_level(obj)

    def rules(self, obj):
        """Read-only view of the rules (the YAML tab shows them in full)."""
        return f"{len((obj.spec or {}).get('rules') or [])} rule(s)"

    def ui_permissions(self, obj):
        """Read-only view of the uiPermissions."""
        return self.ui(obj)
