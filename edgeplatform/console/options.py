"""``ManifestAdmin``: a ModelAdmin whose rows, buttons and writes all go through the platform's own paths.

- rows: ``Model.objects.restrict(user, "list")``;
- page, "Add", "Change" and "Delete": the engine, at the object's scope (``access``), and the page's
  uiPermissions (``page_ui``) in force where the engine grants the verb;
- writes: ``services.save_manifest`` / ``services.delete_object`` (validation, authorization,
  409 on a stale resourceVersion, audit and signals exactly as through the API);
- a YAML tab per object (``<object>/yaml/``) reading and writing the whole manifest;
- ``ProgressAdmin``: kinds whose page shows live progress answer ``<object>/status/`` as JSON (polled by
  ``static/console/status-poll.js``), beside the object's own action URLs (``object_actions``);
- an object the user may not see is answered 404, as the API answers it, and each view notes what it is
  about (``denials``) so that a refusal is audited naming the kind and the object.
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from edgeplatform.console import access, denials
from edgeplatform.console.forms import ManifestForm, YamlForm, apply_status_error, dump_yaml
from edgeplatform.resources import services
from edgeplatform.resources.errors import StatusError

__all__ = ["ManifestAdmin", "ManifestRejected", "ProgressAdmin", "changes_object", "ui_table"]


def ui_table(view: tuple = (), manage: tuple = (), *, create: tuple | None = None,
             delete: tuple | None = None) -> dict[str, tuple[str, ...]]:
    """A page's uiPermissions by verb: ``view`` for the page, ``manage`` for its buttons (``create`` and
    ``delete`` when those differ)."""
    return {"list": tuple(view), "create": tuple(manage if create is None else create), "update": tuple(manage),
            "delete": tuple(manage if delete is None else delete)}


class ManifestRejected(Exception):
    """A save the write path refused; the change form is shown again with its causes."""

    def __init__(self, error: StatusError):
        super().__init__(error.message)
        self.error = error


class ManifestAdmin(admin.ModelAdmin):
    """Base admin for every manifest kind. Subclasses pick list columns and a ``ManifestForm``."""

    form = ManifestForm
    change_form_template = "console/change_form.html"
    show_full_result_count = False  # one COUNT per list page, not two
    search_fields = ("name",)
    list_per_page = 50
    ordering = ("name",)
    actions_on_bottom = False
    #: where the dashboard counts this kind ("" = not on the dashboard)
    dashboard_label = ""
    #: the reference's uiPermissions for this page by verb (``list`` for the page and its menu entry, ``create``,
    #: ``update``, ``delete`` for its buttons and actions; see ``ui_table``): each shows when the engine grants
    #: the verb at a scope where one of the verb's uiPermissions is in force. A verb without any needs the grant.
    page_ui: dict[str, tuple[str, ...]] = {}
    #: offer "New …" for this kind among the dashboard's quick actions (when "Add" shows)
    quick_action = False
    #: fields shown read-only once the object exists
    readonly_on_change = ("name",)

    @property
    def converter(self):
        """The kind's converter (registered when its app is ready, after admin modules may load)."""
        return self.model._converter

    # --- rows ---------------------------------------------------------------------------------
    def get_queryset(self, request):
        """Only the rows the engine lets this user list."""
        return self.model.objects.restrict(request.user, "list")

    def get_object(self, request, object_id, from_field=None):
        """The object among the user's rows; else 404, noted as hiding an object when one exists.

        Django's admin redirects to the dashboard when this returns None; the console answers 404 instead,
        so a hidden object and a missing one look the same to the user, as they do in the API.
        """
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            denials.note_object(request, obj)
            return obj
        if self._stored(object_id, from_field):
            denials.note_hidden(request)
        raise Http404(f"{self.opts.verbose_name} not found")

    def _stored(self, object_id, from_field) -> bool:
        field = self.opts.pk if from_field is None else self.opts.get_field(from_field)
        try:
            value = field.to_python(object_id)
        except (ValidationError, ValueError):
            return False
        return self.model._default_manager.filter(**{field.name: value}).exists()

    def _note(self, request, verb: str) -> None:
        converter = self.converter
        denials.note_kind(request, verb, group=converter.group, resource=converter.plural, kind=converter.kind)

    # --- permissions: every one of them is a question to the engine ---------------------------
    def _ui(self, verb: str) -> tuple[str, ...]:
        return self.page_ui.get(verb, ())

    def has_module_permission(self, request):
        """The kind's page is in the menu when the user may list it somewhere (with the page's uiPermission)."""
        return access.may_somewhere(request.user, "list", self.converter, self._ui("list"))

    def has_view_permission(self, request, obj=None):
        """List somewhere (page) or get at the object's scope (its rows are the engine's, whatever the UI)."""
        if obj is None:
            return access.may_somewhere(request.user, "list", self.converter, self._ui("list"))
        return access.may(request.user, "get", obj) or self._listed(request, obj)

    def _listed(self, request, obj) -> bool:
        # rows a kind shows beyond scope grants (the user's own User row) are readable where they are listed
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_add_permission(self, request):
        """"Add" shows when the user may create this kind at some scope (the scope itself is checked on save)."""
        return access.may_somewhere(request.user, "create", self.converter, self._ui("create"))

    def has_change_permission(self, request, obj=None):
        """Update somewhere (list page) or at the object's scope (change form)."""
        if obj is None:
            return access.may_somewhere(request.user, "update", self.converter, self._ui("update"))
        return access.may(request.user, "update", obj, self._ui("update"))

    def has_delete_permission(self, request, obj=None):
        """Delete somewhere (bulk action) or at the object's scope (delete button)."""
        if obj is None:
            return access.may_somewhere(request.user, "delete", self.converter, self._ui("delete"))
        return access.may(request.user, "delete", obj, self._ui("delete"))

    # --- forms --------------------------------------------------------------------------------
    def get_readonly_fields(self, request, obj=None):
        """The name is immutable once created."""
        return self.readonly_on_change if obj is not None else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        """The kind's form, told about the request (choices are restricted per user) and a rejected save."""
        form_class = super().get_form(request, obj, change=change, **kwargs)
        attrs = {"request": request, "rejected": getattr(request, "_console_rejected", None)}
        return type(form_class.__name__, (form_class,), attrs)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Run the change form; a save the write path refused re-renders it with the causes and the input."""
        self._note(request, "create" if object_id is None else "update" if request.method == "POST" else "get")
        extra_context = {**(extra_context or {}), **self._tabs(request, object_id)}
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ManifestRejected as rejected:
            request._console_rejected = rejected.error
            return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        """The list page (a POST runs a bulk action, which deletes)."""
        self._note(request, "list" if request.method in ("GET", "HEAD") else "deletecollection")
        return super().changelist_view(request, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        """The delete confirmation, through ``delete_model``."""
        self._note(request, "delete")
        return super().delete_view(request, object_id, extra_context)

    def save_form(self, request, form, change):
        """The instance is written by ``save_model`` from the manifest, not by the form."""
        return form.instance

    def save_model(self, request, obj, form, change):
        """Save through the one write path; a refusal goes back to the form."""
        manifest = form.build_manifest()
        try:
            context = {**(self.write_context(obj) if change else {}), **form.write_context()}
            saved = services.save_manifest(self.converter, manifest, user=request.user,
                                           instance=obj if change else None, context=context)
        except StatusError as error:
            raise ManifestRejected(error) from error
        form.instance = saved
        # the admin's redirect and message read the object it passed in
        obj.pk, obj.name = saved.pk, saved.name

    def save_related(self, request, form, formsets, change):
        """Related rows are the converter's business (``after_save``); kinds with more override this."""

    def write_context(self, obj) -> dict:
        """Context the converter needs (native kinds: the cluster)."""
        return {}

    def delete_model(self, request, obj):
        """Delete through the one write path."""
        try:
            services.delete_object(self.converter, obj, user=request.user)
        except StatusError as error:
            raise PermissionDenied(error.message) from error

    def delete_queryset(self, request, queryset):
        """Bulk delete: one checked delete per object; refusals are reported, the rest proceed."""
        for obj in queryset:
            try:
                services.delete_object(self.converter, obj, user=request.user)
            except StatusError as error:
                self.message_user(request, error.message, messages.ERROR)

    # Django's own change log would be a second record beside the audit log: the write path audits.
    def log_addition(self, request, obj, message):
        """Recorded by the audit log through the write path."""

    def log_change(self, request, obj, message):
        """Recorded by the audit log through the write path."""

    def log_deletions(self, request, queryset):
        """Recorded by the audit log through the write path."""

    def log_deletion(self, request, obj, object_repr):
        """Recorded by the audit log through the write path."""

    def history_view(self, request, object_id, extra_context=None):
        """An object's history is its audit trail (the admin's own change log is not kept)."""
        self._note(request, "get")
        obj = self.get_object(request, object_id)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        query = urlencode({"resource": f"{self.converter.plural}/{obj.name}"})
        return HttpResponseRedirect(f"{reverse(f'{self.admin_site.name}:audit')}?{query}")

    # --- YAML tab -----------------------------------------------------------------------------
    def get_urls(self):
        """The admin's URLs plus ``<id>/yaml/``."""
        info = self.opts.app_label, self.opts.model_name
        extra = [path("<path:object_id>/yaml/", self.admin_site.admin_view(self.yaml_view),
                      name="{}_{}_yaml".format(*info))]
        return extra + super().get_urls()

    def _tabs(self, request, object_id) -> dict:
        if object_id is None:
            return {}
        return {"yaml_url": reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_yaml",
                                    args=[object_id])}

    def yaml_view(self, request, object_id):
        """Show an object's manifest as YAML; accept an edited one when the user may update it."""
        self._note(request, "update" if request.method == "POST" else "get")
        obj = self.get_object(request, object_id)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        can_update = self.has_change_permission(request, obj)
        if request.method == "POST":
            if not can_update:
                raise PermissionDenied
            form = YamlForm(request.POST)
            if form.is_valid():
                try:
                    saved = services.save_manifest(self.converter, form.cleaned_data["manifest"],
                                                   user=request.user, instance=obj,
                                                   context=self.write_context(obj))
                except StatusError as error:
                    apply_status_error(form, error, catch_all="manifest")
                else:
                    self.message_user(request, f'{self.converter.kind} "{saved.name}" saved '
                                               f"(resourceVersion {saved.resource_version}).", messages.SUCCESS)
                    return HttpResponseRedirect(request.path)
        else:
            form = YamlForm(initial={"manifest": dump_yaml(self.converter.to_manifest(obj))})
        if not can_update:
            form.fields["manifest"].disabled = True
        context = {
            **self.admin_site.each_context(request),
            "title": f"{self.converter.kind} {obj.name}: YAML",
            "opts": self.opts, "original": obj, "form": form, "can_update": can_update,
            "change_url": reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
                                  args=[obj.pk]),
            "has_view_permission": True, "app_label": self.opts.app_label,
        }
        return TemplateResponse(request, "console/yaml.html", context)

    @admin.display(description="YAML")
    def yaml_link(self, obj):
        """A link to the object's YAML tab (list column)."""
        url = reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_yaml", args=[obj.pk])
        return format_html('<a href="{}">YAML</a>', url)

    @admin.display(description="scope")
    def scope(self, obj):
        """The object's scope path (list column)."""
        return obj.scope_path


def changes_object(view):
    """An object action that changes the object: POST only, noted as an update, answered for an object the user
    may update. The view is called as ``view(admin, request, obj)``."""

    @wraps(view)
    def action(self, request, object_id):
        self._note(request, "update")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return view(self, request, obj)

    return action


class ProgressAdmin(ManifestAdmin):
    """A kind whose page shows live progress: ``<id>/status/`` answers ``object_progress(obj)`` as JSON to those
    who may see the object, and each of ``object_actions`` is served at ``<id>/<action>/``. Every one of these
    URLs is named ``<app_label>_<model_name>_<action>`` (``object_url``)."""

    #: the object's action URLs beside ``status``: ``<id>/<action>/`` by the name of the method serving it
    #: (``changes_object`` makes one a POST that needs the update permission)
    object_actions: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        """A subclass says what its status endpoint answers: ``object_progress(self, obj) -> dict``."""
        super().__init_subclass__(**kwargs)
        if not callable(getattr(cls, "object_progress", None)):
            raise TypeError(f"{cls.__name__} needs an object_progress(obj) method (what <id>/status/ answers)")

    def get_urls(self):
        """The admin's URLs plus ``<id>/status/`` and ``<id>/<action>/`` for each of ``object_actions``."""
        views = {"status": "status_view", **self.object_actions}
        extra = [path(f"<path:object_id>/{action}/", self.admin_site.admin_view(getattr(self, view)),
                      name=self._action_url_name(action)) for action, view in views.items()]
        return extra + super().get_urls()

    def _action_url_name(self, action: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{action}"

    def object_url(self, action: str, pk) -> str:
        """The URL of the object's ``action`` (``status`` or one of ``object_actions``)."""
        return reverse(f"{self.admin_site.name}:{self._action_url_name(action)}", args=[pk])

    def status_view(self, request, object_id):
        """The page's one status endpoint: the object's progress, as JSON."""
        self._note(request, "get")
        obj = self.get_object(request, object_id)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return JsonResponse(self.object_progress(obj))
