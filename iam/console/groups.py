"""The groups page: a group's display name and description, and its members (written on the users)."""
from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count

from edgeplatform.console.fields import NameListField
from edgeplatform.console.forms import ManifestForm, get_path, set_path
from edgeplatform.console.options import ManifestAdmin, ManifestRejected
from edgeplatform.console.site import console
from edgeplatform.resources.errors import StatusError
from iam import services
from iam.console.users import USERS_UI
from iam.models import User, UserGroup

__all__ = ["GroupAdmin", "GroupForm"]


class GroupForm(ManifestForm):
    """A group: name, display name, description and members (members are written on the users)."""

    name = forms.CharField(max_length=253)
    display_name = forms.CharField(required=False, max_length=128)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    members = NameListField(required=False, help_text="User names, separated by commas or spaces.")
    field_map = {"metadata.name": "name", "spec.displayName": "display_name", "spec.description": "description",
                 "members": "members"}

    def initial_from(self, manifest):
        """Form values from the manifest and the group's current members."""
        members = sorted(self.instance.group.user_set.values_list("name", flat=True))
        return {"display_name": get_path(manifest, ("spec", "displayName"), ""),
                "description": get_path(manifest, ("spec", "description"), ""), "members": members}

    def overlay(self, manifest, data):
        """Form values into the manifest."""
        if "name" in data:
            manifest["metadata"]["name"] = data["name"]
        set_path(manifest, ("spec", "displayName"), data.get("display_name"))
        set_path(manifest, ("spec", "description"), data.get("description"))


@admin.register(UserGroup, site=console)
class GroupAdmin(ManifestAdmin):
    """Groups; saving the member list updates each added or removed user through the write path."""

    form = GroupForm
    fields = ("name", "display_name", "description", "members")
    list_display = ("name", "display", "member_count", "yaml_link")
    dashboard_label = ""
    page_ui = USERS_UI

    def get_queryset(self, request):
        """Visible groups with their member counts (one query)."""
        return super().get_queryset(request).annotate(_members=Count("group__user", distinct=True))

    @admin.display(description="display name")
    def display(self, obj):
        """spec.displayName."""
        return (obj.spec or {}).get("displayName", "")

    @admin.display(description="members")
    def member_count(self, obj):
        """How many users are in the group."""
        return obj._members

    def display_name(self, obj):
        """Read-only view of spec.displayName."""
        return self.display(obj)

    def description(self, obj):
        """Read-only view of spec.description."""
        return (obj.spec or {}).get("description", "")

    def members(self, obj):
        """Read-only view of the members."""
        return ", ".join(sorted(obj.group.user_set.values_list("name", flat=True)))

    def save_model(self, request, obj, form, change):
        """Save the group, then add or remove each member through ``set_user_groups`` (the User write path)."""
        super().save_model(request, obj, form, change)
        group = UserGroup.objects.get(pk=obj.pk)
        wanted = list(form.cleaned_data.get("members") or [])
        current = set(group.group.user_set.values_list("name", flat=True))
        users = {u.name: u for u in User.objects.filter(name__in=set(wanted) | current).prefetch_related("groups")}
        problems = [{"field": "members", "message": f'user "{name}" not found', "reason": "FieldValueNotFound"}
                    for name in wanted if name not in users]
        if problems:
            raise ManifestRejected(StatusError(422, "members not found", "Invalid", causes=problems))
        for name, user in users.items():
            if (name in wanted) == (name in current):
                continue
            groups = {g.name for g in user.groups.all()}
            groups = groups | {group.name} if name in wanted else groups - {group.name}
            try:
                services.set_user_groups(user, groups, actor=request.user)
            except StatusError as error:
                raise ManifestRejected(StatusError(error.status_code, error.message, error.reason, causes=[
                    {"field": "members", "message": f"{name}: {error.message}"}])) from error
