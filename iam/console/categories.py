"""The role template categories page."""
from __future__ import annotations

from django import forms
from django.contrib import admin

from edgeplatform.console.forms import ManifestForm
from edgeplatform.console.options import ui_table
from edgeplatform.console.site import console
from iam.console.access import AccessAdmin
from iam.models import Category

__all__ = ["CategoryAdmin", "CategoryForm"]


class CategoryForm(ManifestForm):
    """A category: its name (display names through YAML)."""

    name = forms.CharField(max_length=253)
    field_map = {"metadata.name": "name"}

    def overlay(self, manifest, data):
        """Form values into the manifest."""
        if "name" in data:
            manifest["metadata"]["name"] = data["name"]


@admin.register(Category, site=console)
class CategoryAdmin(AccessAdmin):
    """Role template categories."""

    form = CategoryForm
    fields = ("name",)
    page_ui = ui_table(view=("platform/roles.view",), manage=("platform/roles.manage",))
    list_display = ("name", "yaml_link")
