"""The users page: a user's email, display name, state, groups and password, written as their manifest."""
from __future__ import annotations

from django import forms
from django.contrib import admin

from edgeplatform.console.forms import ManifestForm, get_path, set_path
from edgeplatform.console.options import ManifestAdmin, ui_table
from edgeplatform.console.site import console
from iam.models import User, UserGroup

__all__ = ["USERS_UI", "UserAdmin", "UserForm"]

#: uiPermissions of the users and groups pages (docs/builtin-roles.md)
USERS_UI = ui_table(view=("platform/users.view",), manage=("platform/users.manage",))


class UserForm(ManifestForm):
    """A user: name, email, display name, state, groups and (optionally) a new password."""

    name = forms.CharField(max_length=253)
    email = forms.EmailField(required=False)
    display_name = forms.CharField(required=False, max_length=128)
    active = forms.BooleanField(required=False, initial=True, help_text="A disabled user cannot log in; "
                                                                        "their API tokens are revoked.")
    groups = forms.MultipleChoiceField(required=False, choices=(), widget=forms.CheckboxSelectMultiple)
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False), strip=False,
                               help_text="Leave empty to keep the current password.")
    field_map = {"metadata.name": "name", "spec.email": "email", "spec.displayName": "display_name",
                 "status.state": "active", "spec.groups": "groups", "spec.password": "password"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        visible = set(UserGroup.objects.restrict(self.request.user, "list").values_list("name", flat=True))
        current = set(self.initial.get("groups") or [])
        self.fields["groups"].choices = [(name, name) for name in sorted(visible | current)]

    def initial_from(self, manifest):
        """Form values from the manifest."""
        return {"email": get_path(manifest, ("spec", "email"), ""),
                "display_name": get_path(manifest, ("spec", "displayName"), ""),
                "active": get_path(manifest, ("status", "state")) != "Disabled",
                "groups": get_path(manifest, ("spec", "groups"), [])}

    def overlay(self, manifest, data):
        """Form values into the manifest (the state goes in ``status.state``, as the API takes it)."""
        if "name" in data:
            manifest["metadata"]["name"] = data["name"]
        set_path(manifest, ("spec", "email"), data.get("email"))
        set_path(manifest, ("spec", "displayName"), data.get("display_name"))
        manifest["spec"]["groups"] = list(data.get("groups") or [])
        if data.get("password"):
            manifest["spec"]["password"] = data["password"]
        manifest["status"] = {"state": "Active" if data.get("active") else "Disabled"}


@admin.register(User, site=console)
class UserAdmin(ManifestAdmin):
    """Users."""

    form = UserForm
    fields = ("name", "email", "display_name", "active", "groups", "password")
    list_display = ("name", "email", "is_active", "group_names", "last_login", "yaml_link")
    list_filter = ("is_active",)
    search_fields = ("name", "email")
    dashboard_label, dashboard_order = "Users", 60
    quick_action = True
    page_ui = USERS_UI

    def get_queryset(self, request):
        """Visible users with their groups in one extra query."""
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="groups")
    def group_names(self, obj):
        """The user's groups."""
        return ", ".join(sorted(g.name for g in obj.groups.all()))

    def display_name(self, obj):
        """Read-only view of spec.displayName."""
        return (obj.spec or {}).get("displayName", "")

    def active(self, obj):
        """Read-only view of the state."""
        return "Active" if obj.is_active else "Disabled"

    def groups(self, obj):
        """Read-only view of the groups."""
        return self.group_names(obj)
