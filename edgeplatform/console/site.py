"""``ConsoleSite``: the admin site at ``/console/``, open to every active user, showing each only what they may see.

Django's own permission model (``is_staff``, model permissions) plays no part: the site lets in
any active, authenticated user, and every page asks the platform's permission engine (see
``access`` and ``options.ManifestAdmin``). Apps add pages beside the model pages with
``console.register_page`` (the audit log, lockouts, API tokens, "My permissions").
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from edgeplatform import health
from edgeplatform.console import access, denials
from edgeplatform.console.forms import ManifestPasswordChangeForm
from edgeplatform.resources import scopes

__all__ = ["ConsolePage", "ConsoleSite", "console"]

#: the children a scope picker offers under a scope of each level (Platform → Cluster → …)
CHILD_LEVELS = {
    "platform": ("cluster",),
    "cluster": ("workspace", "nodegroup", "namespace", "node"),
    "workspace": ("namespace",),
    "nodegroup": ("node",),
    "namespace": (),
    "node": (),
}
SCOPE_PICKER_LIMIT = 500


@dataclass
class ConsolePage:
    """A console page that is not a model's list: title, URL name, view and who sees it."""

    name: str
    title: str
    route: str
    view: Callable
    visible: Callable  # (request) -> bool, asked of the engine
    section: str = "Console"
    in_menu: bool = True
    #: (API group, resource, kind) the page shows, named in the audit event of a refused visit
    resource: tuple[str, str, str] = ("", "", "")


class ConsoleSite(admin.AdminSite):
    """The console. Every authenticated, active user may enter; what they see is the engine's call."""

    site_header = "Edge Platform console"
    site_title = "Edge Platform"
    index_title = "Dashboard"
    index_template = "console/dashboard.html"
    login_form = AuthenticationForm  # not the admin's, which refuses users without is_staff
    login_template = "console/login.html"
    site_url = None

    def __init__(self, name="console"):
        super().__init__(name)
        self._pages: list[ConsolePage] = []

    def has_permission(self, request):
        """Any active, authenticated user; Django's ``is_staff`` plays no part."""
        user = request.user
        return bool(user.is_authenticated and user.is_active)

    def password_change(self, request, extra_context=None):
        """Django's password change view, saving through the write path (so it is validated and audited)."""
        from django.contrib.auth.views import PasswordChangeView

        defaults = {"form_class": ManifestPasswordChangeForm,
                    "success_url": reverse("admin:password_change_done", current_app=self.name),
                    "extra_context": {**self.each_context(request), **(extra_context or {})}}
        if self.password_change_template is not None:
            defaults["template_name"] = self.password_change_template
        request.current_app = self.name
        return PasswordChangeView.as_view(**defaults)(request)

    def login(self, request, extra_context=None):
        """Django's LoginView (lockout applies through ``authenticate``), plus a single sign-on link when OIDC is on."""
        extra_context = dict(extra_context or {})
        if getattr(settings, "OIDC_ENABLED", False):
            extra_context["oidc_login_url"] = reverse("oidc_authentication_init")
        return super().login(request, extra_context)

    # --- extra pages -------------------------------------------------------------------------
    def register_page(self, page: ConsolePage) -> None:
        """Add a page (its view answers 403 to users ``page.visible`` refuses)."""
        self._pages = [p for p in self._pages if p.name != page.name] + [page]

    def visible_pages(self, request) -> list[ConsolePage]:
        """The extra pages this user may open."""
        return [page for page in self._pages if page.visible(request)]

    def _guarded(self, page: ConsolePage):
        def view(request, *args, **kwargs):
            group, resource, kind = page.resource
            denials.note_kind(request, "list" if request.method in ("GET", "HEAD") else "update", group=group,
                              resource=resource, kind=kind)
            if not page.visible(request):
                raise PermissionDenied
            return page.view(request, *args, **kwargs)

        view.__name__ = page.name
        return self.admin_view(view)

    def get_urls(self):
        """Dashboard, scope picker and the extra pages, then the model pages."""
        urls = [path("scopes/", self.admin_view(self.scopes_view), name="scopes")]
        urls += [path(page.route, self._guarded(page), name=page.name) for page in self._pages]
        return urls + super().get_urls()

    def each_context(self, request):
        """Admin context plus the extra pages for the menu and the user links."""
        context = super().each_context(request)
        if self.has_permission(request):
            pages = self.visible_pages(request)
            context["console_pages"] = [{"title": p.title, "url": reverse(f"{self.name}:{p.name}"),
                                         "section": p.section, "name": p.name} for p in pages]
        return context

    def get_app_list(self, request, app_label=None):
        """The model pages the engine allows, then a section per group of extra pages."""
        app_list = super().get_app_list(request, app_label)
        if app_label is not None:
            return app_list
        sections: dict[str, list] = {}
        for page in self.visible_pages(request):
            if page.in_menu:
                sections.setdefault(page.section, []).append({
                    "name": page.title, "object_name": page.name, "perms": {"view": True},
                    "admin_url": reverse(f"{self.name}:{page.name}"), "add_url": None, "view_only": True,
                })
        for section, models in sections.items():
            app_list.append({"name": section, "app_label": f"console-{section.lower().replace(' ', '-')}",
                             "app_url": reverse(f"{self.name}:index"), "has_module_perms": True,
                             "models": models})
        return app_list

    # --- dashboard ------------------------------------------------------------------------------
    def index(self, request, extra_context=None):
        """Counts of what the user may see, and the health of the services the platform needs."""
        counts = []
        for model, model_admin in self._registry.items():
            label = getattr(model_admin, "dashboard_label", "")
            if label and model_admin.has_module_permission(request):
                url = reverse(f"{self.name}:{model._meta.app_label}_{model._meta.model_name}_changelist")
                counts.append({"label": label, "count": model_admin.get_queryset(request).count(), "url": url,
                               "order": getattr(model_admin, "dashboard_order", 100)})
        counts.sort(key=lambda item: item["order"])
        actions = []
        for model, model_admin in self._registry.items():
            if getattr(model_admin, "quick_action", False) and model_admin.has_add_permission(request):
                actions.append({"label": f"New {model._meta.verbose_name}", "id": model._meta.model_name,
                                "url": reverse(f"{self.name}:{model._meta.app_label}_{model._meta.model_name}_add"),
                                "order": getattr(model_admin, "dashboard_order", 100)})
        actions.sort(key=lambda item: item["order"])
        results = health.checks()
        found = access.grants(request.user)
        superuser = found is not None and found.superuser
        context = {
            **self.each_context(request),
            "title": self.index_title,
            "subtitle": None,
            "counts": counts,
            "quick_actions": actions,
            "health": [{"name": name, "ok": ok, "detail": detail if superuser else ""}
                       for name, (ok, detail) in results.items()],
            "healthy": health.healthy(results),
            "app_list": self.get_app_list(request),
            **(extra_context or {}),
        }
        request.current_app = self.name
        return TemplateResponse(request, self.index_template, context)

    # --- scope picker ---------------------------------------------------------------------------
    def scopes_view(self, request):
        """``GET scopes/?parent=<path>``: the scopes directly below ``parent`` that the user may see.

        A scope is offered when the user may list objects of its kind there, or holds a binding at
        it or below it (so a workspace admin can walk Platform → Cluster → their workspace).
        """
        parent = request.GET.get("parent") or scopes.PLATFORM
        try:
            level = scopes.level_of(parent)
        except (KeyError, IndexError):
            return JsonResponse({"parent": parent, "error": "not a scope path"}, status=400)
        found = access.grants(request.user)
        bound = tuple(found.by_path) if found is not None else ()
        items = []
        for child_level in CHILD_LEVELS.get(level, ()):
            try:
                model = scopes.scope_model(child_level)
            except KeyError:
                continue
            prefix = scopes.join(parent, child_level, "")
            below = model.objects.filter(scope_path__startswith=prefix)
            visible = set(below.restrict(request.user, "list").values_list("scope_path", flat=True)
                          [:SCOPE_PICKER_LIMIT])
            for scope_path in below.values_list("scope_path", flat=True).order_by("name")[:SCOPE_PICKER_LIMIT]:
                if "/" in scope_path[len(prefix):]:
                    continue
                if scope_path in visible or any(scopes.is_within(b, scope_path) for b in bound):
                    items.append({"path": scope_path, "level": child_level, "name": scopes.name_of(scope_path),
                                  "label": f"{child_level}: {scopes.name_of(scope_path)}"})
        return JsonResponse({"parent": parent, "level": level, "items": items})


console = ConsoleSite()
