"""Form fields and widgets the console's forms share."""
from __future__ import annotations

import yaml
from django import forms
from django.urls import reverse

from edgeplatform.resources import documents

__all__ = ["NameListField", "ScopePickerWidget", "YamlListField"]


class ScopePickerWidget(forms.TextInput):
    """A scope path input that ``static/console/scope-picker.js`` turns into cascading selects."""

    def __init__(self, site_name: str = "console", attrs=None):
        super().__init__(attrs)
        self.site_name = site_name

    def get_context(self, name, value, attrs):
        """Point the script at the site's scopes endpoint."""
        attrs = {**(attrs or {}), "class": "scope-picker-input vTextField",
                 "data-scopes-url": reverse(f"{self.site_name}:scopes")}
        return super().get_context(name, value, attrs)


class NameListField(forms.CharField):
    """Names separated by commas, spaces or new lines (subjects, members)."""

    def to_python(self, value):
        """A list of the non-empty names, in order, without repeats."""
        text = super().to_python(value) or ""
        out: list[str] = []
        for part in text.replace(",", " ").split():
            if part not in out:
                out.append(part)
        return out

    def prepare_value(self, value):
        """Lists are shown comma-separated."""
        return ", ".join(value) if isinstance(value, (list, tuple)) else value


class YamlListField(forms.CharField):
    """A YAML list (rules of a role or template)."""

    widget = forms.Textarea(attrs={"rows": 10, "cols": 80, "class": "console-yaml", "spellcheck": "false"})

    def to_python(self, value):
        """Parse the text; empty is an empty list."""
        text = super().to_python(value) or ""
        if not text.strip():
            return []
        try:
            parsed = documents.load_yaml(text)
        except documents.DocumentError as exc:
            raise forms.ValidationError(exc.problem) from exc
        if not isinstance(parsed, list):
            raise forms.ValidationError("must be a YAML list")
        return parsed

    def prepare_value(self, value):
        """Lists are shown as YAML."""
        if isinstance(value, list):
            return yaml.safe_dump(value, sort_keys=False, default_flow_style=False) if value else ""
        return value
