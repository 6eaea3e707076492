"""The audit log page, and every user's own activity (the same rows the API's ``auditevents`` answers)."""
from __future__ import annotations

from urllib.parse import urlencode

from django.template.response import TemplateResponse

from edgeplatform.console.site import ConsolePage, console
from edgeplatform.resources.errors import StatusError
from iam.console.account import everyone

__all__ = ["AUDIT_FILTERS", "AUDIT_PAGE", "audit_view", "my_activity_view"]


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


console.register_page(ConsolePage("my_activity", "My activity", "my-activity/", my_activity_view, everyone,
                                  section="Account", in_menu=False))
console.register_page(ConsolePage("audit", "Audit log", "audit/", audit_view, _may_read_audit,
                                  section="Administration",
                                  resource=("iam.theriseunion.io", "auditevents", "AuditEvent")))
