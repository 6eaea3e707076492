"""The role bindings page: a binding's role, its scope (picked Platform → Cluster → …) and subjects."""
from __future__ import annotations

from django import forms
from django.contrib import admin

from edgeplatform.console.fields import NameListField, ScopePickerWidget
from edgeplatform.console.forms import ManifestForm, get_path
from edgeplatform.console.options import ui_table
from edgeplatform.console.site import console
from edgeplatform.resources import scopes
from edgeplatform.resources.names import CLUSTER_LABEL, SCOPE_LABEL, SCOPE_VALUE_LABEL
from iam.console.access import AccessAdmin
from iam.models import IAMRole, IAMRoleBinding

__all__ = ["BINDINGS_UI", "BindingAdmin", "BindingForm"]

#: uiPermissions of the bindings page (docs/builtin-roles.md)
BINDINGS_UI = ui_table(view=("platform/roles.view", "cluster/members.view", "workspace/members.view",
                             "nodegroup/members.view", "project/members.view"),
                       manage=("platform/roles.manage", "cluster/members.manage", "workspace/members.manage",
                               "nodegroup/members.manage", "project/members.manage"))

SCOPE_FIELDS = (f"metadata.labels[{SCOPE_LABEL}]", f"metadata.labels[{SCOPE_VALUE_LABEL}]",
                f"metadata.labels[{CLUSTER_LABEL}]")


class BindingForm(ManifestForm):
    """A binding: name, role, scope (picked Platform → Cluster → …) and subjects."""

    name = forms.CharField(max_length=253)
    role = forms.ChoiceField(choices=())
    scope = forms.CharField(widget=ScopePickerWidget(), help_text="The scope the role is granted at, and "
                                                                  "everything below it.")
    users = NameListField(required=False, help_text="User names, separated by commas or spaces.")
    groups = NameListField(required=False, help_text="Group names, separated by commas or spaces.")
    field_map = {"metadata.name": "name", "spec.roleRef": "role", **dict.fromkeys(SCOPE_FIELDS, "scope"),
                 "spec.subjects": "users"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "role" in self.fields:
            roles = IAMRole.objects.restrict(self.request.user, "list").values_list("name", "scope_level")
            self.fields["role"].choices = [("", "---------")] + [(n, f"{n} ({lvl})") for n, lvl in roles]

    def initial_from(self, manifest):
        """Form values from the manifest."""
        subjects = get_path(manifest, ("spec", "subjects"), []) or []
        return {"scope": self.instance.scope_path,
                "users": [s["name"] for s in subjects if s.get("kind") == "User"],
                "groups": [s["name"] for s in subjects if s.get("kind") == "Group"]}

    def clean_scope(self):
        """A scope path the picker (or the user) gave."""
        value = self.cleaned_data["scope"].strip().strip("/")
        try:
            scopes.level_of(value)
        except (KeyError, IndexError) as exc:
            raise forms.ValidationError("not a scope path (platform, clusters/<c>, clusters/<c>/workspaces/<w>, "
                                        "…)") from exc
        return value

    def overlay(self, manifest, data):
        """Form values into the manifest: the scope becomes the binding's scope labels."""
        if "name" in data:
            manifest["metadata"]["name"] = data["name"]
        if data.get("role"):
            manifest["spec"]["roleRef"] = {"apiGroup": "iam.theriseunion.io", "kind": "IAMRole", "name": data["role"]}
        labels = manifest["metadata"].setdefault("labels", {})
        for key in (SCOPE_LABEL, SCOPE_VALUE_LABEL, CLUSTER_LABEL):
            labels.pop(key, None)
        path = data["scope"]
        level = scopes.level_of(path)
        labels[SCOPE_LABEL] = level
        labels[SCOPE_VALUE_LABEL] = scopes.name_of(path)
        if level not in ("platform", "cluster"):
            labels[CLUSTER_LABEL] = scopes.cluster_of(path)
        others = [s for s in manifest["spec"].get("subjects") or [] if s.get("kind") not in ("User", "Group")]
        subjects = [{"kind": "User", "name": n, "apiGroup": "iam.theriseunion.io"} for n in data.get("users") or []]
        subjects += [{"kind": "Group", "name": n, "apiGroup": "iam.theriseunion.io"} for n in data.get("groups") or []]
        manifest["spec"]["subjects"] = subjects + others


@admin.register(IAMRoleBinding, site=console)
class BindingAdmin(AccessAdmin):
    """Role bindings, with a scope picker."""

    form = BindingForm
    fields = ("name", "role", "scope", "users", "groups")
    readonly_on_change = ("name", "role")
    list_display = ("name", "role", "scope_path", "subjects", "yaml_link")
    list_select_related = ("role",)
    list_filter = ("scope_level",)
    search_fields = ("name", "role__name", "scope_path")
    dashboard_label, dashboard_order = "Role bindings", 70
    quick_action = True
    page_ui = BINDINGS_UI

    @admin.display(description="subjects")
    def subjects(self, obj):
        """``kind:name`` of each subject."""
        return ", ".join(f"{s.get('kind')}:{s.get('name')}" for s in (obj.spec or {}).get("subjects") or [])

    def scope(self, obj):
        """Read-only view of the scope."""
        return obj.scope_path

    def users(self, obj):
        """Read-only view of the users bound."""
        return ", ".join(s["name"] for s in (obj.spec or {}).get("subjects") or [] if s.get("kind") == "User")

    def groups(self, obj):
        """Read-only view of the groups bound."""
        return ", ".join(s["name"] for s in (obj.spec or {}).get("subjects") or [] if s.get("kind") == "Group")
