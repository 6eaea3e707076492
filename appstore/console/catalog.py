"""The app store's catalog (``/console/app-store/``) and review queue (``/console/app-store/review/``).

**Catalog.** The applications the user may list, grouped by category (a heading is the AppCategory of the
category label's value, else the IAM Category of that name, else the value), searched by name, display name and
description; each with its provisioner, latest version and the links the user may follow (its page; the deploy
form when it has an approved version and the user may create deployments somewhere).

**Review queue.** The Pending versions the user may ``review`` (at each version's scope), less those they
submitted, oldest first, each with approve / reject and a message (``appstore.review.decide`` through the
version's review action).
"""
from __future__ import annotations

from django.template.response import TemplateResponse
from django.urls import reverse

from appstore import review
from appstore.console.common import UI, category_titles, deploy_converter, description, display_name, latest, search
from appstore.models import Application, ApplicationVersion
from edgeplatform.console import access
from edgeplatform.console.site import ConsolePage, console

__all__ = ["catalog_view", "review_queue_view"]

#: applications shown on the catalog page (the search narrows)
CATALOG_LIMIT = 500
#: versions shown in the review queue
QUEUE_LIMIT = 200
UNCATEGORIZED = "Other"


def _may_browse(request) -> bool:
    return access.may_somewhere(request.user, "list", Application._converter, UI["applications"]["view"])


def _may_review_somewhere(request) -> bool:
    return access.may_somewhere(request.user, "review", ApplicationVersion._converter)


def catalog_view(request):
    """The catalog (see the module docstring)."""
    user = request.user
    query = (request.GET.get("q") or "").strip()
    rows = search(Application.objects.restrict(user, "list"), query).select_related("workspace").order_by("name")
    apps = list(rows[:CATALOG_LIMIT])
    approved: dict[int, list] = {}
    for version in ApplicationVersion.objects.filter(application__in=apps, review_phase=review.APPROVED) \
            .only("application_id", "version", "deprecated"):
        approved.setdefault(version.application_id, []).append(version)
    titles = category_titles(app.category for app in apps)
    may_deploy = access.may_somewhere(user, "create", deploy_converter(), UI["deployments"]["manage"])
    groups: dict[str, dict] = {}
    for app in apps:
        heading = titles.get(app.category) or UNCATEGORIZED
        group = groups.setdefault(app.category or "", {"key": app.category or "uncategorized", "title": heading,
                                                       "apps": []})
        newest = latest(app, approved.get(app.pk, []))
        group["apps"].append({
            "name": app.name, "display_name": display_name(app), "description": description(app),
            "provisioner": app.provisioner, "workspace": app.workspace.name if app.workspace else "",
            "latest": newest, "url": reverse("admin:appstore_application_change", args=[app.pk]),
            "deploy_url": reverse("admin:appstore_application_deploy", args=[app.pk])
            if may_deploy and newest else ""})
    ordered = sorted(groups.values(), key=lambda g: (g["key"] == "uncategorized", g["title"].lower()))
    add_url = reverse("admin:appstore_application_add") if access.may_somewhere(
        user, "create", Application._converter, UI["applications"]["manage"]) else ""
    context = {**console.each_context(request), "title": "App store", "groups": ordered, "q": query,
               "count": len(apps), "add_url": add_url,
               "review_url": reverse("admin:appstore_review") if _may_review_somewhere(request) else ""}
    return TemplateResponse(request, "console/appstore/catalog.html", context)


def queue(user) -> list[ApplicationVersion]:
    """The Pending versions ``user`` may decide, oldest first."""
    rows = ApplicationVersion.objects.restrict(user, "review").filter(review_phase=review.PENDING) \
        .exclude(status__submitter=user.get_username()).select_related("application").order_by("created", "pk")
    return list(rows[:QUEUE_LIMIT])


def review_queue_view(request):
    """The review queue (see the module docstring)."""
    rows = [{"obj": row, "status": row.status or {}, "display_name": display_name(row.application),
             "url": reverse("admin:appstore_applicationversion_change", args=[row.pk]),
             "application_url": reverse("admin:appstore_application_change", args=[row.application_id]),
             "review_url": reverse("admin:appstore_applicationversion_review", args=[row.pk])}
            for row in queue(request.user)]
    context = {**console.each_context(request), "title": "Review queue", "rows": rows,
               "here": request.get_full_path()}
    return TemplateResponse(request, "console/appstore/review_queue.html", context)


console.register_page(ConsolePage("appstore_catalog", "Catalog", "app-store/", catalog_view, _may_browse,
                                  section="App catalog",
                                  resource=("app.theriseunion.io", "applications", "Application")))
console.register_page(ConsolePage("appstore_review", "Review queue", "app-store/review/", review_queue_view,
                                  _may_review_somewhere, section="App catalog",
                                  resource=("app.theriseunion.io", "applicationversions", "ApplicationVersion")))
