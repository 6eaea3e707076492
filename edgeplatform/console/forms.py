"""Console forms: a few natural fields per kind, turned into a manifest for the one write path.

A form never writes a row itself. ``ManifestForm.build_manifest`` overlays the form's values
on the object's current manifest; the admin saves that through
``edgeplatform.resources.services.save_manifest``. A rejected manifest (``StatusError``)
comes back as errors on the fields its ``details.causes[].field`` name.
"""
from __future__ import annotations

import copy

import yaml
from django import forms
from django.contrib.auth.forms import PasswordChangeForm

from edgeplatform.resources import documents, services
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.errors import StatusError

__all__ = ["ManifestForm", "ManifestPasswordChangeForm", "YamlForm", "apply_status_error", "dump_yaml"]


def dump_yaml(manifest: dict) -> str:
    """A manifest as block YAML, keys in their natural order."""
    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False, allow_unicode=True)


def apply_status_error(form: forms.Form, error: StatusError, field_map: dict[str, str] | None = None,
                       catch_all: str | None = None) -> None:
    """Attach a rejected write to ``form``: each cause on the form field its manifest field maps to.

    ``field_map`` maps manifest field paths (``spec.displayName``, ``metadata.labels[...]``) to form
    field names; the longest matching prefix wins. Causes no field takes become non-field errors that
    still name the manifest field (or errors of ``catch_all``), so nothing is silently lost.
    """
    field_map = field_map or {}
    causes = (error.details or {}).get("causes") or []
    if not causes:
        form.add_error(catch_all, error.message)
        return
    for item in causes:
        where, message = item.get("field", ""), item.get("message", "")
        target = _form_field(where, field_map, form)
        if target is None:
            form.add_error(catch_all, f"{where}: {message}" if where else message)
        else:
            form.add_error(target, message)


def _form_field(where: str, field_map: dict[str, str], form) -> str | None:
    best = None
    for prefix, name in field_map.items():
        if name in form.fields and (where == prefix or where.startswith(prefix + ".") or
                                    where.startswith(prefix + "[")):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, name)
    return best[1] if best else None


class ManifestForm(forms.ModelForm):
    """Base of the per-kind forms: declared fields only, read from and written to the manifest.

    Subclasses set ``field_map`` (manifest field → form field) and implement ``initial_from`` and
    ``overlay``. The admin fills ``request`` and ``rejected`` (a StatusError from a save that failed,
    shown on the re-rendered form).
    """

    field_map: dict[str, str] = {}
    request = None
    rejected: StatusError | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance is not None and self.instance.pk:
            current = self.instance._converter.to_manifest(self.instance)
            for name, value in self.initial_from(current).items():
                if name in self.fields:
                    self.initial[name] = value  # the manifest, not the raw column, is what the form edits

    def initial_from(self, manifest: dict) -> dict:
        """Form values read from a stored object's manifest."""
        return {}

    def overlay(self, manifest: dict, data: dict) -> None:
        """Write the cleaned form values into ``manifest`` (in place)."""

    def write_context(self) -> dict:
        """Context the converter needs for this write (native kinds: the cluster)."""
        return {}

    def build_manifest(self) -> dict:
        """The manifest to save: the stored one (with its resourceVersion) with the form's values on top."""
        instance = self.instance
        converter = type(instance)._converter
        if instance.pk:
            manifest = copy.deepcopy(converter.to_manifest(instance))
            manifest.pop("status", None)
        else:
            manifest = {"apiVersion": converter.api_version, "kind": converter.kind, "metadata": {}, "spec": {}}
        manifest.setdefault("metadata", {})
        manifest.setdefault("spec", {})
        self.overlay(manifest, self.cleaned_data)
        return manifest

    def clean(self):
        """Show the rejection of the previous save attempt on this (re-rendered) form."""
        data = super().clean()
        if self.rejected is not None:
            apply_status_error(self, self.rejected, self.field_map)
        return data

    def _post_clean(self):
        # The model is never built from this form (the converter does that), so skip the model validation.
        pass


class YamlForm(forms.Form):
    """The YAML tab: the whole manifest as text."""

    manifest = forms.CharField(widget=forms.Textarea(attrs={"rows": 30, "cols": 100, "spellcheck": "false",
                                                            "class": "console-yaml"}), strip=False)

    def clean_manifest(self):
        """Parse the YAML into a mapping (a syntax error names the line)."""
        text = self.cleaned_data["manifest"]
        try:
            value = documents.load_yaml(text)
        except documents.DocumentError as exc:
            cause = exc.details["causes"][0]["field"]
            where = f" at {cause}" if cause != "body" else ""
            raise forms.ValidationError(f"{exc.problem}{where}") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("the manifest must be a YAML mapping (apiVersion, kind, metadata, spec)")
        return value


def set_path(manifest: dict, path: tuple, value) -> None:
    """Set ``manifest[path...]``; an empty value removes the key (and empty maps it leaves)."""
    node = manifest
    for key in path[:-1]:
        node = node.setdefault(key, {})
    if value in (None, "", [], {}):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


def get_path(manifest: dict, path: tuple, default=None):
    """``manifest[path...]`` or ``default``."""
    node = manifest
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


class ManifestPasswordChangeForm(PasswordChangeForm):
    """Django's change-your-password form, saved through the one write path (validated and audited there).

    The old password was checked by the form, so the write runs with the system's authority: a user may
    always change their own password, whatever their bindings say about the ``users`` kind.
    """

    def save(self, commit=True):
        """Write the new password as ``spec.password`` of the user's manifest."""
        user = self.user._meta.model.objects.get(pk=self.user.pk)  # the row, not the request's lazy wrapper
        converter = converter_for(user)
        manifest = converter.to_manifest(user)
        manifest.setdefault("spec", {})["password"] = self.cleaned_data["new_password1"]
        services.save_manifest(converter, manifest, instance=user)
        self.user.refresh_from_db()
        return self.user
