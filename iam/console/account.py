"""The account pages every user has: "My permissions" and their personal API tokens."""
from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone

from edgeplatform.console.site import ConsolePage, console
from edgeplatform.resources import scopes
from iam.models import IAMRole

__all__ = ["TokenForm", "everyone", "my_permissions_view", "tokens_view"]


def my_permissions_view(request):
    """"My permissions": every binding of the user (and their groups) by scope, with the role's rules and UI."""
    from iam.engine import engine

    found = engine.grants(request.user)
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
                           "ui_in_force": sorted(engine.ui_permissions(request.user, p))}
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


def everyone(request) -> bool:
    """Account pages are every user's."""
    return True


console.register_page(ConsolePage("my_permissions", "My permissions", "my-permissions/", my_permissions_view,
                                  everyone, section="Account", in_menu=False))
console.register_page(ConsolePage("tokens", "API tokens", "tokens/", tokens_view, everyone, section="Account",
                                  in_menu=False))
