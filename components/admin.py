"""Console pages for components: per-cluster lists, a form with a YAML values editor, enable/disable, a held delete,
live progress (one status endpoint the page polls every 2 s until a terminal phase) and the Helm revision
history with rollback. Every write goes through the one write path as the user (see ``edgeplatform.console``).
"""
from __future__ import annotations

import yaml
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from clusters.models import Cluster
from components import dependencies
from components.manifests import CLUSTER_LABEL_FIELD, TERMINAL_PHASES
from components.models import Component
from edgeplatform.console.forms import ManifestForm, get_path, set_path
from edgeplatform.console.options import ProgressAdmin, changes_object, ui_table
from edgeplatform.console.site import console
from edgeplatform.resources import services
from edgeplatform.resources.errors import StatusError
from edgeplatform.resources.names import CLUSTER_LABEL

__all__ = ["ComponentAdmin", "ComponentForm", "progress", "revision_history"]

#: CSS class of each phase's badge (console.css)
PHASE_BADGES = {"Ready": "ok", "Failed": "error", "Installing": "busy", "Uninstalling": "busy", "Pending": "wait",
                "Disabled": "off", "Unmanaged": "off"}


class ComponentForm(ManifestForm):
    """A component: its cluster, chart, version, dependencies and Helm values (YAML)."""

    name = forms.CharField(max_length=63, help_text="Lowercase letters, digits and '-'.")
    cluster = forms.ChoiceField(choices=(), help_text="Its custom resource lives in the host namespace named after "
                                                      "the cluster.")
    namespace = forms.CharField(required=False, max_length=63,
                                help_text="Host namespace; empty: the cluster's name (the host cluster also takes "
                                          "edge-system).")
    enabled = forms.BooleanField(required=False, initial=True, help_text="Unticked: the release is uninstalled and "
                                                                         "the component kept.")
    version = forms.CharField(required=False, help_text="The chart version.")
    chart_name = forms.CharField(required=False, label="Chart", help_text="Empty: the component's name.")
    chart_namespace = forms.CharField(required=False, label="Release namespace", help_text="Empty: edge-system.")
    release_name = forms.CharField(required=False, label="Release name", help_text="Empty: the component's name.")
    repository = forms.CharField(required=False, help_text="A ChartMuseum URL; empty: the platform's repositories.")
    depends_on = forms.CharField(required=False, label="Depends on",
                                 help_text="Components of the same cluster, comma-separated: Ready before this one.")
    values = forms.CharField(required=False, label="Values (YAML)",
                             widget=forms.Textarea(attrs={"rows": 14, "class": "console-yaml", "spellcheck": "false"}))
    field_map = {"metadata.name": "name", "metadata.namespace": "namespace", CLUSTER_LABEL_FIELD: "cluster",
                 "spec.enabled": "enabled", "spec.version": "version", "spec.chart.name": "chart_name",
                 "spec.chart.namespace": "chart_namespace", "spec.chart.releaseName": "release_name",
                 "spec.chart.repository": "repository", "spec.dependsOn": "depends_on", "spec.values": "values"}
    #: spec.chart fields by form field
    CHART_FIELDS = {"chart_name": "name", "chart_namespace": "namespace", "release_name": "releaseName",
                    "repository": "repository"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "cluster" in self.fields:
            names = Cluster.objects.restrict(self.request.user, "list").values_list("name", flat=True)
            self.fields["cluster"].choices = [("", "---------"), *((name, name) for name in names)]

    def initial_from(self, manifest):
        """Form values from the manifest."""
        spec = manifest.get("spec") or {}
        values = spec.get("values")
        return {"enabled": spec.get("enabled", True), "version": spec.get("version", ""),
                **{field: get_path(manifest, ("spec", "chart", key), "") for field, key in self.CHART_FIELDS.items()},
                "depends_on": ", ".join(spec.get("dependsOn") or []),
                "values": yaml.safe_dump(values, sort_keys=False, default_flow_style=False) if values else ""}

    def clean_values(self):
        """The values editor holds a YAML mapping (or nothing)."""
        text = self.cleaned_data.get("values") or ""
        try:
            values = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as error:
            raise forms.ValidationError(f"not valid YAML: {error}") from error
        if values is not None and not isinstance(values, dict):
            raise forms.ValidationError("must be a YAML mapping (key: value)")
        return values

    def overlay(self, manifest, data):
        """Form values into the manifest (empty fields leave the spec's defaults to the platform)."""
        metadata = manifest["metadata"]
        if "name" in data:
            metadata["name"] = data["name"]
        if data.get("cluster"):
            metadata.setdefault("labels", {})[CLUSTER_LABEL] = data["cluster"]
        if data.get("namespace"):
            metadata["namespace"] = data["namespace"]
        spec = manifest["spec"]
        spec["enabled"] = bool(data.get("enabled"))
        set_path(manifest, ("spec", "version"), data.get("version"))
        for field, key in self.CHART_FIELDS.items():
            set_path(manifest, ("spec", "chart", key), data.get(field))
        if not spec.get("chart"):
            spec.pop("chart", None)
        depends = [name.strip() for name in (data.get("depends_on") or "").split(",") if name.strip()]
        if depends:
            spec["dependsOn"] = depends
        else:
            spec.pop("dependsOn", None)
        if data.get("values"):
            spec["values"] = data["values"]
        else:
            spec.pop("values", None)


def progress(component) -> dict:
    """What the live progress panel shows: phase, step, message, retries, and whether it is over."""
    status = component.status or {}
    phase = status.get("phase") or ("Pending" if component.deletion_requested is None else "Uninstalling")
    return {"name": component.name, "namespace": component.namespace, "cluster": component.cluster.name,
            "phase": phase, "step": status.get("step", ""), "reason": status.get("reason", ""),
            "message": status.get("message", ""), "retryCount": status.get("retryCount", 0),
            "nextRetryTime": status.get("nextRetryTime"), "lastFailureTime": status.get("lastFailureTime"),
            "releaseVersion": status.get("releaseVersion"),
            "observedGeneration": status.get("observedGeneration"), "generation": component.generation,
            "deletionRequested": component.deletion_requested is not None,
            "terminal": phase in TERMINAL_PHASES and component.deletion_requested is None
            and status.get("observedGeneration", component.generation) >= component.generation}


def revision_history(component) -> list[dict] | None:
    """The component's Helm revisions, newest first (``components.services.revisions``); None where the platform
    keeps none."""
    try:
        from components.services import revisions
    except ImportError:
        return None
    return list(revisions(component))


@admin.register(Component, site=console)
class ComponentAdmin(ProgressAdmin):
    """Components, per cluster (``?cluster__name=<cluster>``) or across the fleet."""

    form = ComponentForm
    change_form_template = "console/components/change_form.html"
    change_list_template = "console/components/change_list.html"
    fields = ("name", "cluster", "namespace", "enabled", "version", "chart_name", "chart_namespace", "release_name",
              "repository", "depends_on", "values")
    readonly_on_change = ("name", "cluster", "namespace")
    list_display = ("name", "cluster_link", "phase_badge", "version", "chart", "last_error", "dependencies",
                    "enabled", "yaml_link")
    list_select_related = ("cluster",)
    search_fields = ("name", "cluster__name")
    actions = ("enable_components", "disable_components", "delete_selected")
    page_ui = ui_table(view=("platform/components.view", "cluster/components.view"),
                       manage=("platform/components.manage", "cluster/components.manage"))
    object_actions = {"rollback": "rollback_view"}

    def lookup_allowed(self, lookup, value, request=None):
        """A cluster's components: ``?cluster__name=<cluster>`` (rows stay the user's: the filter only narrows)."""
        return lookup == "cluster__name" or super().lookup_allowed(lookup, value, request)

    def changelist_view(self, request, extra_context=None):
        """The list, with the clusters the user may see as links to their components."""
        clusters = Cluster.objects.restrict(request.user, "list").order_by("name").values_list("name", flat=True)
        extra = {"clusters": list(clusters[:200]), "current_cluster": request.GET.get("cluster__name", "")}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    # --- columns ---------------------------------------------------------------------------------------
    @admin.display(description="cluster", ordering="cluster__name")
    def cluster_link(self, obj):
        """The cluster, linking to its components."""
        url = reverse(f"{self.admin_site.name}:components_component_changelist")
        return format_html('<a href="{}?cluster__name={}">{}</a>', url, obj.cluster.name, obj.cluster.name)

    @admin.display(description="phase", ordering="phase")
    def phase_badge(self, obj):
        """status.phase as a badge (a delete asked for reads Uninstalling until the controller says more)."""
        phase = progress(obj)["phase"]
        return format_html('<span class="component-phase phase-{}">{}</span>', PHASE_BADGES.get(phase, "wait"),
                           phase)

    @admin.display(description="version")
    def version(self, obj):
        """spec.version."""
        return (obj.spec or {}).get("version", "")

    @admin.display(description="chart")
    def chart(self, obj):
        """The chart and where it comes from (the platform's repositories when the spec names none)."""
        chart = (obj.spec or {}).get("chart") or {}
        return f"{chart.get('name') or obj.name} ({chart.get('repository') or 'platform'})"

    @admin.display(description="last error")
    def last_error(self, obj):
        """status.message when the component failed."""
        status = obj.status or {}
        return status.get("message", "") if status.get("phase") == "Failed" else ""

    @admin.display(description="depends on")
    def dependencies(self, obj):
        """spec.dependsOn."""
        return ", ".join((obj.spec or {}).get("dependsOn") or [])

    # read-only views of the form's fields on the change page
    def namespace(self, obj):
        """The host namespace."""
        return obj.namespace

    # --- actions: through the write path, as the user -----------------------------------------------------
    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        """Enable in install order, disable in the reverse (what depends on a component goes first)."""
        rows = list(queryset.select_related("cluster"))
        by_key = {(row.cluster_id, row.name): row for row in rows}
        order = [by_key[(cluster, name)] for cluster in sorted({row.cluster_id for row in rows})
                 for name in dependencies.install_order([row for row in rows if row.cluster_id == cluster])]
        changed = 0
        for obj in order if enabled else reversed(order):
            manifest = self.converter.to_manifest(obj)
            manifest.pop("status", None)
            manifest["spec"]["enabled"] = enabled
            try:
                services.save_manifest(self.converter, manifest, user=request.user, instance=obj)
            except StatusError as error:
                self.message_user(request, f"{obj.name}: {error.message}", messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} component(s) {'enabled' if enabled else 'disabled'}.",
                              messages.SUCCESS)

    @admin.action(description="Enable the selected components", permissions=["change"])
    def enable_components(self, request, queryset):
        """spec.enabled: true (the controller installs them)."""
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable the selected components (uninstall, keep them)", permissions=["change"])
    def disable_components(self, request, queryset):
        """spec.enabled: false (the controller uninstalls their releases)."""
        self._set_enabled(request, queryset, False)

    # --- delete: held until the release is uninstalled ----------------------------------------------------
    def delete_model(self, request, obj):
        """Ask for the delete through the write path; one others still need is refused (shown, not a 403)."""
        try:
            services.delete_object(self.converter, obj, user=request.user)
        except StatusError as error:
            if error.status_code != 409:
                raise PermissionDenied(error.message) from error
            request._component_conflict = error

    def response_delete(self, request, obj_display, obj_id):
        """Back to the component: a refusal says why; a delete asked for says the uninstall runs."""
        conflict = getattr(request, "_component_conflict", None)
        if conflict is not None:
            self.message_user(request, conflict.message, messages.ERROR)
        else:
            self.message_user(request, f'Component "{obj_display}" is being uninstalled; it goes once its release '
                                       "is removed.", messages.SUCCESS)
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:components_component_change", args=[obj_id]))

    # --- progress and history ---------------------------------------------------------------------------
    def object_progress(self, obj) -> dict:
        """What the progress panel polls (``<id>/status/``): the component's phase, step, message and retries."""
        return progress(obj)

    @changes_object
    def rollback_view(self, request, obj):
        """Roll back to a revision (``components.services.rollback``): the spec of that revision is written
        again through the write path, and the controller upgrades to it."""
        try:
            from components.services import rollback
        except ImportError as missing:  # no revision history kept: nothing to roll back to
            raise Http404("no revision history") from missing
        revision = request.POST.get("revision", "")
        try:
            rollback(obj, int(revision), user=request.user)
        except (ValueError, TypeError):
            self.message_user(request, f"no such revision: {revision}", messages.ERROR)
        except StatusError as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            self.message_user(request, f"Rolling back to revision {revision}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:components_component_change", args=[obj.pk]))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """The form, plus the progress panel and the revision history of an existing component."""
        extra = dict(extra_context or {})
        if object_id is not None and request.method == "GET":
            obj = self.model.objects.restrict(request.user, "get").filter(pk=object_id).select_related("cluster") \
                .first() if str(object_id).isdigit() else None
            if obj is not None:
                extra["progress"] = progress(obj)
                extra["status_url"] = self.object_url("status", obj.pk)
                extra["revisions"] = revision_history(obj)
                extra["may_rollback"] = self.has_change_permission(request, obj)
                extra["rollback_url"] = self.object_url("rollback", obj.pk)
        return super().changeform_view(request, object_id, form_url, extra)
