"""Console pages of the app store's kinds (see ``edgeplatform.console``): lists with kubectl's columns, status
badges, filters and search; an application's page (its metadata, its versions newest first with their review
state, and the actions the user may take on them); a version's page with its review; a deployment's page (live
per-topology progress, the topology picture, history and rollback); and the deploy form
(``appstore.console.deploy``). The catalog and the review queue are ``appstore.console.catalog``.

Rows are the engine's (``restrict``); a button shows only where the engine would allow what it does; every
action is the service the API calls (``appstore.review.decide`` / ``set_deprecated``, ``appstore.services.
rollback``, ``edgeplatform.resources.services.save_manifest``), as the user.
"""
from __future__ import annotations

import re

import yaml
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from appstore import provisioners, review, services, versions
from appstore.console import catalog as _catalog  # noqa: F401  (registers the catalog and the review queue)
from appstore.console.common import (
    PHASE_BADGES,
    REVIEW_BADGES,
    UI,
    description,
    display_name,
    latest,
    may_review,
    search,
    version_state,
)
from appstore.console.deploy import DeployForm
from appstore.console.progress import history, progress
from appstore.manifests import (
    CATEGORY_LABEL,
    DESCRIPTION_ANNOTATION,
    DISPLAY_NAME_ANNOTATION,
    PROVISIONER_LABEL,
    WORKSPACE_LABEL,
    ApplicationVersionSpecSerializer,
)
from appstore.models import AppCategory, Application, ApplicationDeployment, ApplicationVersion
from clusters.models import Workspace
from edgeplatform import authz
from edgeplatform.console import access, denials
from edgeplatform.console.forms import ManifestForm, get_path, set_path
from edgeplatform.console.options import ManifestAdmin, ProgressAdmin, changes_object, ui_table
from edgeplatform.console.site import console
from edgeplatform.resources import documents
from edgeplatform.resources.errors import StatusError
from edgeplatform.resources.scopes import PLATFORM

__all__ = ["AppCategoryAdmin", "ApplicationAdmin", "ApplicationDeploymentAdmin", "ApplicationVersionAdmin"]

#: workspaces looked at for the application form's choices
WORKSPACE_LIMIT = 500


def _badge(kind: str, value: str):
    """A state or phase as the console's badge (``static/console/console.css``)."""
    return format_html('<span class="component-phase phase-{}" data-state="{}">{}</span>', kind, value, value)


def _back(request, fallback: str) -> HttpResponseRedirect:
    """To ``next`` when it is a page of this site, else ``fallback``."""
    wanted = request.POST.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return HttpResponseRedirect(wanted)
    return HttpResponseRedirect(fallback)


# --- AppCategory ------------------------------------------------------------------------------------------------

class AppCategoryForm(ManifestForm):
    """A catalog heading: its name, its English display name and description, its icon."""

    name = forms.CharField(max_length=63, help_text="The value applications give the app.theriseunion.io/category "
                                                    "label.")
    display_name = forms.CharField(required=False, max_length=128, label="Display name (en-US)")
    description = forms.CharField(required=False, label="Description (en-US)",
                                  widget=forms.Textarea(attrs={"rows": 3}))
    icon = forms.CharField(required=False, max_length=128)
    field_map = {"metadata.name": "name", "spec.displayName": "display_name", "spec.description": "description",
                 "spec.icon": "icon"}

    def initial_from(self, manifest):
        """Form values from the manifest (the en-US entries of the i18n maps)."""
        return {"display_name": get_path(manifest, ("spec", "displayName", "en-US"), ""),
                "description": get_path(manifest, ("spec", "description", "en-US"), ""),
                "icon": get_path(manifest, ("spec", "icon"), "")}

    def overlay(self, manifest, data):
        """Form values into the manifest (other languages are kept)."""
        if "name" in data:
            manifest["metadata"]["name"] = data["name"]
        set_path(manifest, ("spec", "displayName", "en-US"), data.get("display_name"))
        set_path(manifest, ("spec", "description", "en-US"), data.get("description"))
        for key in ("displayName", "description"):
            if not manifest["spec"].get(key):
                manifest["spec"].pop(key, None)
        set_path(manifest, ("spec", "icon"), data.get("icon"))


@admin.register(AppCategory, site=console)
class AppCategoryAdmin(ManifestAdmin):
    """App store categories (catalog headings)."""

    form = AppCategoryForm
    fields = ("name", "display_name", "description", "icon")
    list_display = ("name", "shown_as", "icon", "yaml_link")
    page_ui = ui_table(view=UI["applications"]["view"], manage=("platform/appstore.manage",))

    @admin.display(description="display name")
    def shown_as(self, obj):
        """The en-US display name."""
        return ((obj.spec or {}).get("displayName") or {}).get("en-US", "")

    @admin.display(description="icon")
    def icon(self, obj):
        """spec.icon."""
        return (obj.spec or {}).get("icon", "")


# --- Application ------------------------------------------------------------------------------------------------

class ApplicationForm(ManifestForm):
    """An application: name, workspace (or the platform), provisioner, category, display name and description."""

    name = forms.CharField(max_length=63, help_text="Lowercase letters, digits and '-'; unique on the platform.")
    workspace = forms.ChoiceField(choices=(), required=False,
                                  help_text="Who owns it; the platform's applications are offered to every "
                                            "workspace.")
    provisioner = forms.ChoiceField(choices=(), help_text="How its versions are installed; never changes.")
    category = forms.CharField(required=False, max_length=63, help_text="The catalog heading it is listed under.")
    display_name = forms.CharField(required=False, max_length=128)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    field_map = {"metadata.name": "name", f"metadata.labels[{WORKSPACE_LABEL}]": "workspace",
                 f"metadata.labels[{PROVISIONER_LABEL}]": "provisioner",
                 f"metadata.labels[{CATEGORY_LABEL}]": "category",
                 f"metadata.annotations[{DISPLAY_NAME_ANNOTATION}]": "display_name",
                 f"metadata.annotations[{DESCRIPTION_ANNOTATION}]": "description"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.request.user
        converter = Application._converter
        if "workspace" in self.fields:
            choices = [("", "(the platform: every workspace)")] if access.may_at(user, "create", converter,
                                                                                 PLATFORM) else []
            for row in Workspace.objects.select_related("cluster").order_by("name")[:WORKSPACE_LIMIT]:
                if authz.may_know_scope(user, row.scope_path) and access.may_at(user, "create", converter,
                                                                                 row.scope_path):
                    choices.append((row.name, f"{row.name} ({row.cluster.name})"))
            self.fields["workspace"].choices = choices
        if "provisioner" in self.fields:
            self.fields["provisioner"].choices = [(name, name) for name in provisioners.types()]

    def initial_from(self, manifest):
        """Form values from the manifest."""
        labels = manifest["metadata"].get("labels") or {}
        annotations = manifest["metadata"].get("annotations") or {}
        return {"category": labels.get(CATEGORY_LABEL, ""),
                "display_name": annotations.get(DISPLAY_NAME_ANNOTATION, ""),
                "description": annotations.get(DESCRIPTION_ANNOTATION, "")}

    def overlay(self, manifest, data):
        """Form values into the manifest's metadata (an application's spec is empty)."""
        metadata = manifest["metadata"]
        if "name" in data:
            metadata["name"] = data["name"]
        labels = metadata.setdefault("labels", {})
        if "provisioner" in data:
            labels[PROVISIONER_LABEL] = data["provisioner"]
        if data.get("workspace"):
            labels[WORKSPACE_LABEL] = data["workspace"]
        set_path(manifest, ("metadata", "labels", CATEGORY_LABEL), data.get("category"))
        set_path(manifest, ("metadata", "annotations", DISPLAY_NAME_ANNOTATION), data.get("display_name"))
        set_path(manifest, ("metadata", "annotations", DESCRIPTION_ANNOTATION), data.get("description"))


@admin.register(Application, site=console)
class ApplicationAdmin(ManifestAdmin):
    """Applications; an application's page lists its versions and what the user may do with them."""

    form = ApplicationForm
    fields = ("name", "workspace", "provisioner", "category", "display_name", "description")
    readonly_on_change = ("name", "workspace", "provisioner")
    change_form_template = "console/appstore/application_form.html"
    list_display = ("name", "shown_as", "provisioner", "category", "workspace_name", "latest_version", "yaml_link")
    list_filter = ("provisioner", "category")
    list_select_related = ("workspace",)
    dashboard_label, dashboard_order = "Applications", 60
    quick_action = True
    page_ui = ui_table(view=UI["applications"]["view"], manage=UI["applications"]["manage"])

    def get_search_results(self, request, queryset, search_term):
        """Name, display name or description."""
        return search(queryset, search_term), False

    @admin.display(description="display name")
    def shown_as(self, obj):
        """The display name annotation."""
        return display_name(obj)

    @admin.display(description="workspace", ordering="workspace__name")
    def workspace_name(self, obj):
        """The owning workspace ("—": the platform's)."""
        return obj.workspace.name if obj.workspace else "—"

    @admin.display(description="latest")
    def latest_version(self, obj):
        """The newest approved version."""
        return latest(obj) or "—"

    # --- the application's page and the deploy form ---------------------------------------------------------
    def get_urls(self):
        """The admin's URLs plus ``<id>/deploy/`` (the deploy form)."""
        extra = [path("<path:object_id>/deploy/", self.admin_site.admin_view(self.deploy_view),
                      name="appstore_application_deploy")]
        return extra + super().get_urls()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """The form, plus the versions (newest first) with their review state and the actions offered."""
        extra = dict(extra_context or {})
        if object_id is not None and request.method == "GET" and str(object_id).isdigit():
            obj = self.get_queryset(request).filter(pk=object_id).select_related("workspace").first()
            if obj is not None:
                extra.update(application_context(request, obj))
        return super().changeform_view(request, object_id, form_url, extra)

    def deploy_view(self, request, object_id):
        """The deploy form (``appstore.console.deploy``): GET shows it, POST writes the deployment as the user."""
        deployments = ApplicationDeployment._converter
        denials.note_kind(request, "create", group=deployments.group, resource=deployments.plural,
                          kind=deployments.kind)
        obj = self.get_object(request, object_id)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        form = DeployForm(request.POST or None, application=obj, user=request.user)
        if not form.offered.namespaces:
            raise PermissionDenied("no namespace to deploy to")
        if request.method == "POST" and form.is_valid():
            saved = form.save()
            if saved is not None:
                self.message_user(request, f'Deployment "{saved.name}" of {obj.name} saved; it rolls out now.',
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse(f"{self.admin_site.name}:appstore_applicationdeployment_change",
                                                    args=[saved.pk]))
        context = {**self.admin_site.each_context(request), "title": f"Deploy {display_name(obj)}",
                   "application": obj, "form": form, "opts": self.opts,
                   "application_url": reverse(f"{self.admin_site.name}:appstore_application_change",
                                              args=[obj.pk])}
        return TemplateResponse(request, "console/appstore/deploy.html", context)


def application_context(request, app: Application) -> dict:
    """What the application's page shows beside its form: its versions and the actions offered on each."""
    user = request.user
    rows = list(app.versions.order_by("-major", "-minor", "-patch", "-created"))
    rows.sort(key=lambda v: versions.parse(v.version) or versions.parse("0.0.0"), reverse=True)
    may_update = {v.pk: access.may(user, "update", v) for v in rows}
    shown = [{"obj": v, "state": version_state(v), "badge": REVIEW_BADGES.get(version_state(v), "wait"),
              "status": v.status or {}, "may_review": may_review(user, v),
              "may_deprecate": may_update[v.pk] and v.review_phase == review.APPROVED,
              "url": reverse("admin:appstore_applicationversion_change", args=[v.pk])} for v in rows]
    approved = [v for v in rows if v.review_phase == review.APPROVED]
    version_converter = ApplicationVersion._converter
    may_deploy = any(not v.deprecated for v in approved) and access.may_somewhere(
        user, "create", ApplicationDeployment._converter, UI["deployments"]["manage"])
    deployments = ApplicationDeployment.objects.restrict(user, "list").filter(application=app) \
        .select_related("cluster").order_by("namespace", "name")[:50]
    return {
        "application": app, "app_display_name": display_name(app), "app_description": description(app),
        "app_latest": latest(app, approved), "versions": shown,
        "add_version_url": f"{reverse('admin:appstore_applicationversion_add')}?application={app.name}"
        if access.may_at(user, "create", version_converter, app.scope_path) else "",
        "deploy_url": reverse("admin:appstore_application_deploy", args=[app.pk]) if may_deploy else "",
        "app_deployments": [{"obj": d, "url": reverse("admin:appstore_applicationdeployment_change", args=[d.pk]),
                             "badge": PHASE_BADGES.get(d.phase or "Pending", "wait")} for d in deployments],
        "here": request.get_full_path(),
    }


# --- ApplicationVersion -----------------------------------------------------------------------------------------

def _version_name(app: str, version: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", f"{app}-{version}".lower()).strip("-")[:253]


class VersionForm(ManifestForm):
    """A version of an application: the application, its semantic version and its provisioner's config (YAML)."""

    application = forms.ChoiceField(choices=(), help_text="An application you may publish versions of.")
    version = forms.CharField(max_length=128, help_text="A semantic version: 1.2.3, 1.3.0-rc.1.")
    name = forms.CharField(required=False, max_length=253, label="Object name",
                           help_text="Empty: <application>-<version> (dots as dashes).")
    config = forms.CharField(label="Config (YAML)", strip=False,
                             widget=forms.Textarea(attrs={"rows": 16, "class": "console-yaml",
                                                          "spellcheck": "false"}),
                             help_text="The provisioner's config: workloadConfig (deployments: …), helmConfig "
                                       "(chartName, chartVersion, repository, values) or modelConfig, as the "
                                       "application's provisioner reads it.")
    field_map = {"metadata.name": "name", "spec.applicationRef": "application", "spec.version": "version",
                 "spec": "config", **{f"spec.{key}": "config" for key in ApplicationVersionSpecSerializer.CONFIGS}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "application" in self.fields:
            user = self.request.user
            converter = ApplicationVersion._converter
            rows = Application.objects.restrict(user, "list").order_by("name")
            self.fields["application"].choices = [("", "---------")] + [
                (row.name, f"{display_name(row)} ({row.name}, {row.provisioner})") for row in rows
                if access.may_at(user, "create", converter, row.scope_path)]
        if self.instance.pk and self.instance.review_phase == review.APPROVED and "config" in self.fields:
            self.fields["config"].disabled = True
            self.fields["config"].help_text = "Approved: the config never changes (publish a new version instead)."

    def _config_key(self, app_name: str) -> str:
        app = self.instance.application if self.instance.pk else Application.objects.filter(name=app_name).first()
        found = provisioners.get(app.provisioner) if app is not None else None
        return found.config_key if found is not None else "workloadConfig"

    def initial_from(self, manifest):
        """The config of the version's provisioner as YAML."""
        spec = manifest.get("spec") or {}
        key = self._config_key(spec.get("applicationRef", ""))
        return {"config": yaml.safe_dump(spec.get(key) or {}, sort_keys=False, default_flow_style=False)}

    def clean_config(self):
        """A YAML mapping."""
        try:
            value = documents.load_yaml(self.cleaned_data.get("config") or "")
        except documents.DocumentError as error:
            raise forms.ValidationError(error.problem) from error
        if not isinstance(value, dict):
            raise forms.ValidationError("must be a YAML mapping (the provisioner's config)")
        return value

    def overlay(self, manifest, data):
        """Form values into the manifest: the config under the key the application's provisioner reads."""
        spec = manifest["spec"]
        if "application" in data:
            spec["applicationRef"] = data["application"]
        if "version" in data:
            spec["version"] = data["version"]
        if not self.instance.pk:
            manifest["metadata"]["name"] = data.get("name") or _version_name(spec.get("applicationRef", ""),
                                                                             spec.get("version", ""))
        spec[self._config_key(spec.get("applicationRef", ""))] = data.get("config") or {}


@admin.register(ApplicationVersion, site=console)
class ApplicationVersionAdmin(ManifestAdmin):
    """Versions; a version's page shows its review, with approve / reject and deprecate where allowed."""

    form = VersionForm
    fields = ("application", "version", "name", "config")
    readonly_on_change = ("name", "application", "version")
    change_form_template = "console/appstore/version_form.html"
    list_display = ("name", "application_link", "version", "review_badge", "submitter", "reviewer", "yaml_link")
    list_filter = ("review_phase", "deprecated")
    list_select_related = ("application",)
    search_fields = ("name", "version", "application__name")
    ordering = ("application__name", "-major", "-minor", "-patch")
    dashboard_label, dashboard_order = "Application versions", 61
    page_ui = ui_table(view=UI["applications"]["view"], manage=UI["applications"]["manage"])

    @admin.display(description="application", ordering="application__name")
    def application_link(self, obj):
        """The application, linking to its page."""
        url = reverse(f"{self.admin_site.name}:appstore_application_change", args=[obj.application_id])
        return format_html('<a href="{}">{}</a>', url, obj.application.name)

    @admin.display(description="review", ordering="review_phase")
    def review_badge(self, obj):
        """Pending, Approved, Rejected or Deprecated."""
        state = version_state(obj)
        return _badge(REVIEW_BADGES.get(state, "wait"), state)

    @admin.display(description="config")
    def config(self, obj):
        """The provisioner's config as YAML (the read-only view of the form's field)."""
        found = provisioners.get(obj.application.provisioner)
        key = found.config_key if found is not None else "workloadConfig"
        text = yaml.safe_dump((obj.spec or {}).get(key) or {}, sort_keys=False, default_flow_style=False)
        return format_html('<pre class="console-yaml">{}</pre>', text)

    @admin.display(description="submitter")
    def submitter(self, obj):
        """status.submitter."""
        return (obj.status or {}).get("submitter", "")

    @admin.display(description="reviewer")
    def reviewer(self, obj):
        """status.reviewer."""
        return (obj.status or {}).get("reviewer", "")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """The form, plus the review panel."""
        extra = dict(extra_context or {})
        if object_id is not None and request.method == "GET" and str(object_id).isdigit():
            obj = self.get_queryset(request).filter(pk=object_id).select_related("application").first()
            if obj is not None:
                extra.update(version=obj, version_state=version_state(obj), review_status=obj.status or {},
                             version_badge=REVIEW_BADGES.get(version_state(obj), "wait"),
                             may_review=may_review(request.user, obj),
                             may_deprecate=obj.review_phase == review.APPROVED and access.may(
                                 request.user, "update", obj),
                             here=request.get_full_path())
        return super().changeform_view(request, object_id, form_url, extra)

    # --- review and deprecation -------------------------------------------------------------------------------
    def get_urls(self):
        """The admin's URLs plus ``<id>/review/`` and ``<id>/deprecate/`` (POST)."""
        extra = [path("<path:object_id>/review/", self.admin_site.admin_view(self.review_view),
                      name="appstore_applicationversion_review"),
                 path("<path:object_id>/deprecate/", self.admin_site.admin_view(self.deprecate_view),
                      name="appstore_applicationversion_deprecate")]
        return extra + super().get_urls()

    def _acted_on(self, request, object_id, verb: str):
        self._note(request, verb)
        if request.method != "POST":
            return None
        return self.get_object(request, object_id)

    def review_view(self, request, object_id):
        """Approve or reject (``decision``, ``message``) through ``appstore.review.decide``, as the user."""
        obj = self._acted_on(request, object_id, "review")
        if obj is None:
            return HttpResponseNotAllowed(["POST"])
        decision = request.POST.get("decision", "")
        try:
            review.decide(obj, decision, user=request.user, message=request.POST.get("message", "").strip())
        except StatusError as error:
            if error.status_code == 403:
                raise PermissionDenied(error.message) from error
            self.message_user(request, error.message, messages.ERROR)
        else:
            done = "approved" if review.DECISIONS[decision] == review.APPROVED else "rejected"
            self.message_user(request, f"{obj.application.name} {obj.version} {done}.", messages.SUCCESS)
        return _back(request, reverse(f"{self.admin_site.name}:appstore_applicationversion_change", args=[obj.pk]))

    def deprecate_view(self, request, object_id):
        """Deprecate (``deprecated=true``) or undeprecate through ``appstore.review.set_deprecated``, as the user."""
        obj = self._acted_on(request, object_id, "update")
        if obj is None:
            return HttpResponseNotAllowed(["POST"])
        deprecated = request.POST.get("deprecated") == "true"
        try:
            review.set_deprecated(obj, user=request.user, deprecated=deprecated)
        except StatusError as error:
            if error.status_code == 403:
                raise PermissionDenied(error.message) from error
            self.message_user(request, error.message, messages.ERROR)
        else:
            self.message_user(request, f"{obj.application.name} {obj.version} "
                                       f"{'deprecated' if deprecated else 'no longer deprecated'}.", messages.SUCCESS)
        return _back(request, reverse(f"{self.admin_site.name}:appstore_applicationversion_change", args=[obj.pk]))


# --- ApplicationDeployment --------------------------------------------------------------------------------------

@admin.register(ApplicationDeployment, site=console)
class ApplicationDeploymentAdmin(ProgressAdmin):
    """Deployments: the list, and each one's page (live progress, topology picture, history, rollback). New ones
    are made with the deploy form of an application (the "Add" button leads to the catalog)."""

    list_display = ("name", "namespace", "application_link", "version", "ready", "phase_badge", "topology_count",
                    "cluster_name", "yaml_link")
    list_filter = ("phase",)
    list_select_related = ("application", "cluster")
    search_fields = ("name", "namespace", "application__name")
    dashboard_label, dashboard_order = "Application deployments", 62
    page_ui = ui_table(view=UI["deployments"]["view"], manage=UI["deployments"]["manage"])
    object_actions = {"rollback": "rollback_view"}

    @admin.display(description="application", ordering="application__name")
    def application_link(self, obj):
        """The application, linking to its page."""
        url = reverse(f"{self.admin_site.name}:appstore_application_change", args=[obj.application_id])
        return format_html('<a href="{}">{}</a>', url, obj.application.name)

    @admin.display(description="version")
    def version(self, obj):
        """The version running (status.applicationVersion), else the one asked for."""
        return (obj.status or {}).get("applicationVersion") or (obj.spec or {}).get("version", "")

    @admin.display(description="ready")
    def ready(self, obj):
        """status.readyStatus."""
        return (obj.status or {}).get("readyStatus", "")

    @admin.display(description="phase", ordering="phase")
    def phase_badge(self, obj):
        """status.phase as a badge."""
        phase = obj.phase or ("Deleting" if obj.deletion_requested else "Pending")
        return _badge(PHASE_BADGES.get(phase, "wait"), phase)

    @admin.display(description="topologies")
    def topology_count(self, obj):
        """How many topologies it runs on."""
        return len((obj.spec or {}).get("topologies") or []) or 1

    @admin.display(description="cluster", ordering="cluster__name")
    def cluster_name(self, obj):
        """The home cluster."""
        return obj.cluster.name

    def write_context(self, obj) -> dict:
        """The namespace the deployment lives in (for the YAML tab)."""
        return {"namespace": obj.namespace}

    def add_view(self, request, form_url="", extra_context=None):
        """A deployment is made from an application's deploy form: to the catalog to pick one."""
        self._note(request, "create")
        if not self.has_add_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:appstore_catalog"))

    def object_progress(self, obj) -> dict:
        """What the page polls (``<id>/status/``): phase, version, and each topology's and cluster's progress."""
        shown = progress(obj)
        shown.pop("pictured")
        return shown

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The deployment's page (see the module docstring); it is changed through its YAML tab or rolled back."""
        self._note(request, "get")
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        obj = self.get_object(request, object_id)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        may_update = self.has_change_permission(request, obj)
        shown = progress(obj)
        running = (obj.status or {}).get("applicationVersion")
        choices = [text for text in obj.application.versions.filter(review_phase=review.APPROVED)
                   .values_list("version", flat=True) if text != running]
        choices.sort(key=versions.parse, reverse=True)
        context = {
            **self.admin_site.each_context(request), "title": f"Deployment {obj.namespace}/{obj.name}",
            "opts": self.opts, "original": obj, "deployment": obj, "progress": shown, "history": history(obj),
            "status_url": self.object_url("status", obj.pk),
            "yaml_url": reverse(f"{self.admin_site.name}:appstore_applicationdeployment_yaml", args=[obj.pk]),
            "application_url": reverse(f"{self.admin_site.name}:appstore_application_change",
                                       args=[obj.application_id]),
            "may_rollback": may_update and bool(choices),
            "rollback_url": self.object_url("rollback", obj.pk),
            "rollback_choices": choices, "rollback_default": services.rollback_target(obj) or "",
            "delete_url": reverse(f"{self.admin_site.name}:appstore_applicationdeployment_delete", args=[obj.pk])
            if self.has_delete_permission(request, obj) else "",
            "phase_badges": PHASE_BADGES,
        }
        return TemplateResponse(request, "console/appstore/deployment.html", context)

    @changes_object
    def rollback_view(self, request, obj):
        """Roll back to the version chosen (``appstore.services.rollback``, as the user)."""
        version = request.POST.get("version", "").strip() or None
        try:
            saved = services.rollback(obj, user=request.user, version=version)
        except StatusError as error:
            if error.status_code == 403:
                raise PermissionDenied(error.message) from error
            self.message_user(request, error.message, messages.ERROR)
        else:
            self.message_user(request, f"Rolling back to {saved.spec.get('version')}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:appstore_applicationdeployment_change",
                                            args=[obj.pk]))

    def response_delete(self, request, obj_display, obj_id):
        """Back to the list: the deployment goes once every topology is removed."""
        self.message_user(request, f'Deployment "{obj_display}" is being removed from its topologies.',
                          messages.SUCCESS)
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:appstore_applicationdeployment_changelist"))
