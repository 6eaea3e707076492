"""Reading the audit log: who may see what, query parameters, and the AuditEvent manifest."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, time

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from edgeplatform import authz
from edgeplatform.resources.errors import StatusError, cause
from iam.audit.models import AuditEvent
from iam.audit.recorder import RESULTS, VERBS

__all__ = ["API_VERSION", "GROUP", "PLURAL", "can_read_all", "changed_paths", "decode_continue",
           "encode_continue", "filter_events", "to_manifest", "visible_events"]

GROUP, PLURAL, API_VERSION = "iam.theriseunion.io", "auditevents", "iam.theriseunion.io/v1alpha1"
#: the longest continue token decoded (issued ones are about 40 characters)
CONTINUE_MAX = 256


def can_read_all(user) -> bool:
    """May ``user`` read every event (``list`` on ``auditevents`` at platform scope)?"""
    return authz.authorizer().allowed(user, "list", GROUP, PLURAL, "platform")


def visible_events(user) -> QuerySet:
    """The events ``user`` may read: all of them for audit readers, otherwise their own but the 404s that hid an
    object from them (one is recorded only when the object exists, so reading it would tell them what the 404 did
    not: a missing object leaves no event)."""
    if can_read_all(user):
        return AuditEvent.objects.all()
    return AuditEvent.objects.filter(actor=user.get_username()).exclude(result="denied", status_code=404)


def _bad(param: str, message: str) -> StatusError:
    return StatusError(400, f"{param}: {message}", "BadRequest", causes=[cause(param, message)])


def parse_time(param: str, raw: str) -> datetime:
    """An RFC 3339 time (or a date, meaning its midnight UTC) as a UTC datetime; naive times are UTC.

    400 naming ``param`` for text that is not a time, and for a time whose UTC instant falls outside the years
    1 to 9999 (``0001-01-01T00:00:00+14:00`` is in year 0).
    """
    try:
        value = parse_datetime(raw.replace(" ", "+")) if "T" in raw or ":" in raw else None
    except ValueError:  # well formed but impossible (month 13, an offset of a day or more)
        value = None
    if value is None and (day := _date(raw)) is not None:
        value = datetime.combine(day, time.min)
    if value is None:
        raise _bad(param, f"{raw!r} is not an RFC 3339 time such as 2026-01-31T12:00:00Z")
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise _bad(param, f"{raw!r} is out of range: times must fall within the years 1 to 9999 UTC") from None


def _date(raw: str):
    try:
        return parse_date(raw)
    except ValueError:
        return None


def filter_events(qs: QuerySet, params) -> QuerySet:
    """Apply ``user``, ``resource``, ``verb``, ``result``, ``since`` and ``until``; 400 naming a bad one.

    ``resource`` is ``<plural>``, ``<plural>.<group>`` or a kind, optionally followed by ``/<name>``;
    ``verb`` and ``result`` take comma-separated lists.
    """
    if user := _text(params, "user"):
        qs = qs.filter(actor=user)
    if resource := _text(params, "resource"):
        qs = qs.filter(_resource_q(resource))
    for param, allowed, field in (("verb", VERBS, "verb"), ("result", RESULTS, "result")):
        if raw := _text(params, param):
            values = [v.strip() for v in raw.split(",") if v.strip()]
            unknown = [v for v in values if v not in allowed]
            if unknown or not values:
                raise _bad(param, f"unknown {param} {', '.join(unknown) or raw!r}; one of {', '.join(allowed)}")
            qs = qs.filter(**{f"{field}__in": values})
    since = parse_time("since", raw) if (raw := _text(params, "since")) else None
    until = parse_time("until", raw) if (raw := _text(params, "until")) else None
    if since and until and since > until:
        raise _bad("until", "is before since")
    if since:
        qs = qs.filter(timestamp__gte=since)
    if until:
        qs = qs.filter(timestamp__lt=until)
    return qs


def _text(params, param: str) -> str | None:
    """A query parameter's text; 400 naming it when it holds NUL, which no stored value can (nor PostgreSQL
    compare)."""
    raw = params.get(param)
    if raw and "\x00" in raw:
        raise _bad(param, "NUL characters are not allowed")
    return raw


def _resource_q(raw: str) -> Q:
    what, _, name = raw.partition("/")
    plural, _, group = what.partition(".")
    q = Q(resource=plural.lower()) | Q(kind__iexact=plural)
    if group:
        q &= Q(api_group=group)
    if name:
        q &= Q(name=name)
    return q


def encode_continue(event_id: int) -> str:
    """The token of the page after the event ``event_id`` (lists are newest first)."""
    return base64.urlsafe_b64encode(json.dumps(["audit", event_id]).encode()).decode()


def decode_continue(token: str) -> int:
    """The event id a continue token stops at; 400 naming ``continue`` for a token we did not issue.

    A token is short, and holds the tag ``audit`` and an event id: a positive integer the id column can hold.
    """
    try:
        if len(token) > CONTINUE_MAX:
            raise ValueError("too long")
        tag, event_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        if tag != "audit" or type(event_id) is not int or not 0 < event_id < 2 ** 63:
            raise ValueError(tag)
        return event_id
    except (ValueError, TypeError) as exc:  # not base64, not UTF-8, not JSON, not a pair, not ours
        raise _bad("continue", "not a token this server issued") from exc


def changed_paths(before, after, prefix: str = "") -> list[str]:
    """The dotted paths whose values differ between two manifests (lists compare whole)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            out.extend(changed_paths(before.get(key), after.get(key), path))
        return out
    return [] if before == after else [prefix or "."]


def _rfc3339(value: datetime, micro: bool = False) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def to_manifest(event: AuditEvent) -> dict:
    """An event as a Kubernetes-style manifest (field names follow audit.k8s.io Event where they can).

    ``metadata.name`` is the row id; ``spec.sequence`` is its place in the hash chain (None until sealed,
    right after the change it records commits).
    """
    spec = {
        "sequence": event.sequence,
        "timestamp": _rfc3339(event.timestamp, micro=True),
        "requestID": event.request_id,
        "user": {"username": event.actor},
        "sourceIPs": [event.source_ip] if event.source_ip else [],
        "userAgent": event.user_agent,
        "verb": event.verb,
        "objectRef": {"apiGroup": event.api_group, "resource": event.resource, "kind": event.kind,
                      "name": event.name, "scope": event.scope_path},
        "requestURI": event.path,
        "result": event.result,
        "responseStatus": {"code": event.status_code, "message": event.message},
    }
    if event.before is not None or event.after is not None:
        spec["before"], spec["after"] = event.before, event.after
        spec["changes"] = changed_paths(event.before, event.after)
    return {"apiVersion": API_VERSION, "kind": "AuditEvent",
            "metadata": {"name": str(event.id), "creationTimestamp": _rfc3339(event.timestamp)},
            "spec": spec, "status": {"hash": event.hash, "previousHash": event.previous_hash}}
