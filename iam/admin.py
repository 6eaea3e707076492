"""Console pages for users, groups, role templates, roles and bindings, plus the account and audit pages.

Model pages are ``ManifestAdmin`` subclasses on the console site (rows, buttons and writes decided by the
permission engine and saved through ``save_manifest``). The other pages — "My permissions", personal API
tokens, the audit log and login lockouts — are registered with ``console.register_page``.
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone

from edgeplatform.console import access
from edgeplatform.console.fields import NameListField, ScopePickerWidget, YamlListField
from edgeplatform.console.forms import ManifestForm, get_path, set_path
from edgeplatform.console.options import ManifestAdmin, ManifestRejected, ui_table
from edgeplatform.console.site import ConsolePage, console
from edgeplatform.resources import scopes, services
from edgeplatform.resources.errors import StatusError
from iam.manifests import ROLE_LEVELS
from iam.models import (
    BUILTIN_LABEL,
    CLUSTER_LABEL,
    SCOPE_LABEL,
    SCOPE_VALUE_LABEL,
    Category,
    IAMRole,
    IAMRoleBinding,
    RoleTemplate,
    User,
    UserGroup,
)

__all__ = ["BindingAdmin", "CategoryAdmin", "GroupAdmin", "RoleAdmin", "RoleTemplateAdmin", "UserAdmin"]

#: uiPermissions of the users and groups pages, and of the access pages (docs/builtin-roles.md)
USERS_UI = ui_table(view=("platform/users.view",), manage=("platform/users.manage",))
ROLES_UI = ui_table(view=("platform/roles.view", "cluster/roles.view", "workspace/roles.view", "nodegroup/members.view",
                          "project/members.view"),
                    manage=("platform/roles.manage", "cluster/roles.manage", "workspace/roles.manage"))
BINDINGS_UI = ui_table(view=("platform/roles.view", "cluster/members.view", "workspace/members.view",
                             "nodegroup/members.view", "project/members.view"),
                       manage=("platform/roles.manage", "cluster/members.manage", "workspace/members.manage",
                               "nodegroup/members.manage", "project/members.manage"))

SCOPE_FIELDS = (f"metadata.labels[{SCOPE_LABEL}]", f"metadata.labels[{SCOPE_VALUE_LABEL}]",
                f"metadata.labels[{CLUSTER_LABEL}]")


# --- users and groups ---------------------------------------------------------------------------
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
        """Save the group, then move each added or removed member through the User write path."""
        super().save_model(request, obj, form, change)
        group = UserGroup.objects.get(pk=obj.pk)
        wanted = list(form.cleaned_data.get("members") or [])
        current = set(group.group.user_set.values_list("name", flat=True))
        users = {u.name: u for u in User.objects.filter(name__in=set(wanted) | current).prefetch_related("groups")}
        problems = [{"field": "members", "message": f'user "{name}" not found', "reason": "FieldValueNotFound"}
                    for name in wanted if name not in users]
        if problems:
            raise ManifestRejected(StatusError(422, "members not found", "Invalid", causes=problems))
        converter = User._converter
        for name, user in users.items():
            if (name in wanted) == (name in current):
                continue
            manifest = converter.to_manifest(user)
            manifest.pop("status", None)
            groups = set(manifest["spec"].get("groups") or [])
            groups = groups | {group.name} if name in wanted else groups - {group.name}
            manifest["spec"]["groups"] = sorted(groups)
            try:
                services.save_manifest(converter, manifest, user=request.user, instance=user)
            except StatusError as error:
                raise ManifestRejected(StatusError(error.status_code, error.message, error.reason, causes=[
                    {"field": "members", "message": f"{name}: {error.message}"}])) from error


# --- role templates, roles, bindings --------------------------------------------------------------
LEVEL_CHOICES = [(level, level) for level in ROLE_LEVELS]


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


class RoleForm(ManifestForm):
    """A role: name, level, the templates it aggregates and rules of its own (YAML)."""

    name = forms.CharField(max_length=253)
    level = forms.ChoiceField(choices=LEVEL_CHOICES)
    templates = forms.MultipleChoiceField(required=False, choices=(), widget=forms.SelectMultiple(attrs={"size": 12}))
    rules = YamlListField(required=False, help_text="Rules of its own, besides the templates'.")
    field_map = {"metadata.name": "name", f"metadata.labels[{SCOPE_LABEL}]": "level",
                 "spec.aggregationRoleTemplates": "templates", "spec.rules": "rules"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = RoleTemplate.objects.restrict(self.request.user, "list").values_list("name", flat=True)
        self.fields["templates"].choices = [(n, n) for n in names]

    def initial_from(self, manifest):
        """Form values from the manifest."""
        return {"level": get_path(manifest, ("metadata", "labels", SCOPE_LABEL), ""),
                "templates": get_path(manifest, ("spec", "aggregationRoleTemplates", "templateNames"), []),
                "rules": get_path(manifest, ("spec", "rules"), [])}

    def overlay(self, manifest, data):
        """Form values into the manifest (a label selector, if any, is kept)."""
        if "name" in data:
            manifest["metadata"]["name"] = data["name"]
        labels = manifest["metadata"].setdefault("labels", {})
        labels[SCOPE_LABEL] = data["level"]
        if data["level"] == "platform":
            labels[SCOPE_VALUE_LABEL] = "global"
        set_path(manifest, ("spec", "aggregationRoleTemplates", "templateNames"), list(data.get("templates") or []))
        set_path(manifest, ("spec", "rules"), data.get("rules"))


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


class AccessAdmin(ManifestAdmin):
    """Pages of access administration (templates, roles, bindings, categories).

    Shown to those who administer access — who may create bindings somewhere, or read the kind at platform
    scope — and not to those whose roles merely let them read their own scope's roles and members (a
    workspace viewer): the API still answers them, the console keeps its IAM section for administrators.
    """

    def _administers(self, request) -> bool:
        return (access.may_somewhere(request.user, "create", IAMRoleBinding._converter)
                or access.may_at(request.user, "list", self.converter, scopes.PLATFORM))

    def has_module_permission(self, request):
        """In the menu only for administrators of access."""
        return self._administers(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        """Pages only for administrators of access."""
        return self._administers(request) and super().has_view_permission(request, obj)


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


@admin.register(IAMRole, site=console)
class RoleAdmin(AccessAdmin):
    """Roles."""

    form = RoleForm
    fields = ("name", "level", "templates", "rules")
    page_ui = ROLES_UI
    readonly_on_change = ("name", "level")
    list_display = ("name", "scope_level", "scope_value", "builtin", "members", "yaml_link")
    list_filter = ("scope_level", "builtin")

    def get_queryset(self, request):
        """Visible roles with their subject counts (one query)."""
        return super().get_queryset(request).annotate(_members=Count("bindings__subject_rows__name", distinct=True))

    @admin.display(description="members")
    def members(self, obj):
        """Distinct subjects bound to the role."""
        return obj._members

    def level(self, obj):
        """Read-only view of the level."""
        return obj.scope_level

    def templates(self, obj):
        """Read-only view of the aggregated templates."""
        return ", ".join((obj.spec or {}).get("aggregatedRoleTemplates") or [])

    def rules(self, obj):
        """Read-only view of the effective rules."""
        return f"{len(obj.effective_rules or [])} effective rule(s)"


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


# --- pages beside the model pages ------------------------------------------------------------------
def _engine():
    from iam.engine import engine

    return engine


def my_permissions_view(request):
    """"My permissions": every binding of the user (and their groups) by scope, with the role's rules and UI."""
    found = _engine().grants(request.user)
    bindings = list(found.bindings) if found is not None else []
    roles = {r.pk: r for r in IAMRole.objects.filter(pk__in={b[3] for b in bindings})
             .only("name", "effective_rules", "effective_ui", "scope_level")}
    by_scope: dict[str, list] = {}
    for path, binding, role_name, role_id, _digest in bindings:
        role = roles.get(role_id)
        by_scope.setdefault(path, []).append({
            "binding": binding, "role": role_name,
            "rules": role.effective_rules if role else [], "ui": sorted(role.effective_ui or []) if role else []})
    context = {**console.each_context(request), "title": "My permissions",
               "superuser": bool(found and found.superuser),
               "scopes": [{"path": p, "level": scopes.level_of(p), "grants": g,
                           "ui_in_force": sorted(_engine().ui_permissions(request.user, p))}
                          for p, g in sorted(by_scope.items())]}
    return TemplateResponse(request, "console/my_permissions.html", context)


class TokenForm(forms.Form):
    """A new personal API token: a name and an optional expiry."""

    name = forms.CharField(max_length=128)
    expires_in_days = forms.IntegerField(required=False, min_value=1, max_value=3650, label="Expires in (days)",
                                         help_text="Leave empty for a token that does not expire.")


def tokens_view(request):
    """The user's own API tokens: create one (its value is shown once), list them, revoke one."""
    from iam import tokens

    raw = None
    form = TokenForm()
    if request.method == "POST" and "revoke" in request.POST:
        try:
            token_id = int(request.POST["revoke"])
        except ValueError:
            token_id = 0
        if tokens.revoke_token(request.user, token_id):
            messages.success(request, "Token revoked.")
        else:
            messages.error(request, "No such live token.")
        return HttpResponseRedirect(request.path)
    if request.method == "POST":
        form = TokenForm(request.POST)
        if form.is_valid():
            days = form.cleaned_data.get("expires_in_days")
            expires = timezone.now() + timedelta(days=days) if days else None
            problem = tokens.personal_expiry_problem(expires)
            if problem:
                form.add_error("expires_in_days", problem)
            else:
                raw, _row = tokens.create_personal_token(request.user, form.cleaned_data["name"], expires)
                form = TokenForm()
    context = {**console.each_context(request), "title": "API tokens", "form": form, "raw_token": raw,
               "tokens": list(tokens.list_tokens(request.user))}
    return TemplateResponse(request, "console/tokens.html", context)


def _may_see_lockouts(request) -> bool:
    return _engine().allowed(request.user, "list", "iam.theriseunion.io", "users", "platform")


def lockouts_view(request):
    """Locked user names, with an unlock button for whoever may update users at the platform."""
    from iam import lockout

    may_unlock = _engine().allowed(request.user, "update", "iam.theriseunion.io", "users", "platform")
    if request.method == "POST":
        if not may_unlock:
            raise PermissionDenied
        name = request.POST.get("unlock", "")
        if lockout.unlock(name, request.user):
            messages.success(request, f'"{name}" unlocked.')
        else:
            messages.warning(request, f'"{name}" was not locked.')
        return HttpResponseRedirect(request.path)
    context = {**console.each_context(request), "title": "Login lockouts", "rows": lockout.locked_accounts(),
               "may_unlock": may_unlock}
    return TemplateResponse(request, "console/lockouts.html", context)


AUDIT_FILTERS = ("user", "resource", "verb", "result", "since", "until")
AUDIT_PAGE = 100


def _may_read_audit(request) -> bool:
    from iam.audit.query import can_read_all

    return can_read_all(request.user)


def audit_view(request, title: str = "Audit log"):
    """The audit log, newest first (as the API lists it), filtered by user, resource, verb, result and time,
    a page of ``AUDIT_PAGE`` at a time, each mutation with its (redacted) before/after; export links.

    What rows a user sees is the API's rule: everything for audit readers, their own events for anyone else.
    """
    from django.core.paginator import Paginator

    from iam.audit.query import filter_events, visible_events

    params = {k: request.GET.get(k, "").strip() for k in AUDIT_FILTERS}
    errors = []
    try:
        qs = filter_events(visible_events(request.user), {k: v for k, v in params.items() if v})
    except StatusError as error:
        errors = [f"{c['field']}: {c['message']}" for c in (error.details or {}).get("causes") or []] \
            or [error.message]
        qs = visible_events(request.user).none()
    page = Paginator(qs.order_by("-id"), AUDIT_PAGE).get_page(request.GET.get("page"))
    events = [(event, _diff_text(event)) for event in page.object_list]
    query = urlencode({k: v for k, v in params.items() if v})
    api = "/oapis/iam.theriseunion.io/v1alpha1/auditevents"
    context = {**console.each_context(request), "title": title, "events": events, "params": params,
               "errors": errors, "page": page, "query": query,
               "csv_url": f"{api}?{query}&format=csv" if query else f"{api}?format=csv",
               "jsonl_url": f"{api}?{query}&format=jsonl" if query else f"{api}?format=jsonl"}
    return TemplateResponse(request, "console/audit.html", context)


def my_activity_view(request):
    """Every user's own audit trail (the API's ``auditevents`` answers them the same rows)."""
    return audit_view(request, title="My activity")


def _diff_text(event) -> str:
    """A mutation's before and after as YAML (already redacted when recorded); empty for other events."""
    if event.before is None and event.after is None:
        return ""
    import yaml

    return yaml.safe_dump({"before": event.before, "after": event.after}, sort_keys=False,
                          default_flow_style=False)


def _everyone(request) -> bool:
    return True


console.register_page(ConsolePage("my_permissions", "My permissions", "my-permissions/", my_permissions_view,
                                  _everyone, section="Account", in_menu=False))
console.register_page(ConsolePage("tokens", "API tokens", "tokens/", tokens_view, _everyone, section="Account",
                                  in_menu=False))
console.register_page(ConsolePage("my_activity", "My activity", "my-activity/", my_activity_view, _everyone,
                                  section="Account", in_menu=False))
console.register_page(ConsolePage("audit", "Audit log", "audit/", audit_view, _may_read_audit,
                                  section="Administration",
                                  resource=("iam.theriseunion.io", "auditevents", "AuditEvent")))
console.register_page(ConsolePage("lockouts", "Login lockouts", "lockouts/", lockouts_view, _may_see_lockouts,
                                  section="Administration", resource=("iam.theriseunion.io", "lockouts", "")))
