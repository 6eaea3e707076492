"""The login lockouts page: locked user names, with an unlock button for who may update users."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse

from edgeplatform.console.site import ConsolePage, console

__all__ = ["lockouts_view"]


def _may_see_lockouts(request) -> bool:
    from iam.engine import engine

    return engine.allowed(request.user, "list", "iam.theriseunion.io", "users", "platform")


def lockouts_view(request):
    """Locked user names, with an unlock button for whoever may update users at the platform."""
    from iam import lockout
    from iam.engine import engine

    may_unlock = engine.allowed(request.user, "update", "iam.theriseunion.io", "users", "platform")
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


console.register_page(ConsolePage("lockouts", "Login lockouts", "lockouts/", lockouts_view, _may_see_lockouts,
                                  section="Administration", resource=("iam.theriseunion.io", "lockouts", "")))
