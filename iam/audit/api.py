"""``GET /oapis/iam.theriseunion.io/v1alpha1/auditevents[/<id>]``: query and export the audit log.

Lists are newest first, paged with ``limit``/``continue`` like every other list. ``?format=csv`` and
``?format=jsonl`` (or ``Accept: text/csv`` / ``application/jsonl``) stream every matching event.
"""
from __future__ import annotations

import csv
import json

from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from edgeplatform.resources.api import ManifestViewSet
from edgeplatform.resources.errors import StatusError, cause, not_found
from edgeplatform.resources.openapi import ref, status_responses
from iam.audit import query

PARAMS = [
    OpenApiParameter("user", str, description="the acting user name (or system:<task>, anonymous)"),
    OpenApiParameter("resource", str, description="`<plural>`, `<plural>.<group>` or a kind, optionally `/<name>`"),
    OpenApiParameter("verb", str, description="comma-separated verbs (create, update, patch, delete, login, …)"),
    OpenApiParameter("result", str, description="comma-separated results: allowed, denied, error"),
    OpenApiParameter("since", str, description="RFC 3339 time; events at or after it"),
    OpenApiParameter("until", str, description="RFC 3339 time; events before it"),
    OpenApiParameter("limit", int, description="page size (exports: the most events to stream)"),
    OpenApiParameter("continue", str, description="token from the previous page's metadata.continue"),
    OpenApiParameter("format", str, enum=["json", "csv", "jsonl"], description="csv and jsonl stream an export"),
]
CSV_COLUMNS = ["id", "sequence", "timestamp", "user", "sourceIP", "userAgent", "requestID", "verb", "apiGroup",
               "resource", "kind", "name", "scope", "result", "code", "message", "changes", "before", "after",
               "hash"]


class CSVRenderer(BaseRenderer):
    """Selects the CSV export (the view streams it itself)."""

    media_type, format, charset = "text/csv", "csv", "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        """Errors reached here are Status objects: send them as JSON text."""
        return json.dumps(data).encode()


class JSONLinesRenderer(CSVRenderer):
    """Selects the JSON lines export."""

    media_type, format = "application/jsonl", "jsonl"


class _Echo:
    def write(self, value):
        return value


def _json_cell(value) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def _csv_row(manifest: dict) -> list:
    spec = manifest["spec"]
    ref, status = spec["objectRef"], spec["responseStatus"]
    return [manifest["metadata"]["name"], spec["sequence"], spec["timestamp"], spec["user"]["username"],
            ",".join(spec["sourceIPs"]), spec["userAgent"], spec["requestID"], spec["verb"], ref["apiGroup"],
            ref["resource"], ref["kind"], ref["name"], ref["scope"], spec["result"], status["code"],
            status["message"], ";".join(spec.get("changes", [])), _json_cell(spec.get("before")),
            _json_cell(spec.get("after")), manifest["status"]["hash"]]


class AuditEventListView(APIView):
    """The audit log: audit readers see every event, everyone else their own."""

    renderer_classes = [JSONRenderer, CSVRenderer, JSONLinesRenderer]

    def perform_content_negotiation(self, request, force=False):
        """An unknown ``?format=`` is a 400 naming the parameter, not DRF's 404."""
        try:
            return super().perform_content_negotiation(request, force)
        except Http404 as exc:
            raise StatusError(400, "format: must be json, csv or jsonl", "BadRequest",
                              causes=[cause("format", "must be json, csv or jsonl")]) from exc

    def handle_exception(self, exc):
        """An error is a Status in JSON, also when the caller asked for a CSV or JSON lines export."""
        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response

    @extend_schema(
        operation_id="listIamTheriseunionIoV1alpha1AuditEvent", tags=["iam.theriseunion.io/auditevents"],
        summary="List or export audit events (newest first)",
        parameters=[*PARAMS,  # the same names, with their formats
                    OpenApiParameter("since", OpenApiTypes.DATETIME, description="RFC 3339 time; events at or "
                                                                                 "after it"),
                    OpenApiParameter("until", OpenApiTypes.DATETIME, description="RFC 3339 time; events before it"),
                    OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 5000},
                                     description="page size (exports: the most events to stream)")],
        responses={
            (200, "application/json"): OpenApiResponse(inline_serializer("AuditEventList", {
                "apiVersion": serializers.ChoiceField(choices=["iam.theriseunion.io/v1alpha1"]),
                "kind": serializers.ChoiceField(choices=["AuditEventList"]),
                "metadata": serializers.DictField(),
                "items": inline_serializer("AuditEvent", {
                    "apiVersion": serializers.ChoiceField(choices=["iam.theriseunion.io/v1alpha1"]),
                    "kind": serializers.ChoiceField(choices=["AuditEvent"]),
                    "metadata": inline_serializer("AuditEventMetadata", {
                        "name": serializers.CharField(help_text="The event's id."),
                        "creationTimestamp": serializers.DateTimeField()}),
                    "spec": inline_serializer("AuditEventSpec", {
                        "sequence": serializers.IntegerField(allow_null=True, help_text="Its place in the hash "
                                                                                        "chain (null until sealed)."),
                        "timestamp": serializers.DateTimeField(),
                        "requestID": serializers.CharField(),
                        "user": inline_serializer("AuditEventUser", {"username": serializers.CharField()}),
                        "sourceIPs": serializers.ListField(child=serializers.CharField()),
                        "userAgent": serializers.CharField(),
                        "verb": serializers.CharField(),
                        "objectRef": inline_serializer("AuditEventObjectRef", {
                            name: serializers.CharField() for name in ("apiGroup", "resource", "kind", "name",
                                                                       "scope")}),
                        "requestURI": serializers.CharField(),
                        "result": serializers.CharField(help_text="allowed, denied or error."),
                        "responseStatus": inline_serializer("AuditEventResponseStatus", {
                            "code": serializers.IntegerField(), "message": serializers.CharField()}),
                        "before": serializers.JSONField(required=False, allow_null=True,
                                                        help_text="The object before a mutation (secrets "
                                                                  "redacted)."),
                        "after": serializers.JSONField(required=False, allow_null=True,
                                                       help_text="The object after a mutation (secrets redacted)."),
                        "changes": serializers.ListField(child=serializers.CharField(), required=False,
                                                         help_text="The paths a mutation changed."),
                    }),
                    "status": inline_serializer("AuditEventStatus", {
                        "hash": serializers.CharField(), "previousHash": serializers.CharField()}),
                }, many=True)}), description="A page of events"),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Every matching event, as CSV"),
            (200, "application/jsonl"): OpenApiResponse(OpenApiTypes.STR, description="Every matching event, one "
                                                                                      "JSON object a line"),
            **status_responses(400)})
    def get(self, request):
        """An ``AuditEventList`` page, or a streamed CSV / JSON lines export."""
        qs = query.filter_events(query.visible_events(request.user), request.query_params).order_by("-id")
        token = request.query_params.get("continue")
        if token:
            qs = qs.filter(id__lt=query.decode_continue(token))
        export = request.accepted_renderer.format
        if export in ("csv", "jsonl"):
            limit = ManifestViewSet._limit(request) if request.query_params.get("limit") else None
            return self.stream(qs[:limit] if limit else qs, export)
        limit = ManifestViewSet._limit(request)
        rows = list(qs[: limit + 1])
        metadata = {"resourceVersion": ""}
        if len(rows) > limit:
            rows = rows[:limit]
            metadata["continue"] = query.encode_continue(rows[-1].id)
            metadata["remainingItemCount"] = qs.count() - limit
        return Response({"apiVersion": query.API_VERSION, "kind": "AuditEventList", "metadata": metadata,
                         "items": [query.to_manifest(event) for event in rows]})

    @staticmethod
    def stream(qs, export: str) -> StreamingHttpResponse:
        """Stream every event of ``qs`` as CSV or JSON lines, a chunk of rows at a time."""
        events = (query.to_manifest(event) for event in qs.iterator(chunk_size=500))
        if export == "csv":
            writer = csv.writer(_Echo())
            lines = (writer.writerow(row) for row in _chain([CSV_COLUMNS], (_csv_row(m) for m in events)))
            content_type, filename = "text/csv; charset=utf-8", "audit-events.csv"
        else:
            lines = (json.dumps(m, sort_keys=True, separators=(",", ":")) + "\n" for m in events)
            content_type, filename = "application/jsonl; charset=utf-8", "audit-events.jsonl"
        response = StreamingHttpResponse(lines, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def _chain(*iterables):
    for iterable in iterables:
        yield from iterable


class AuditEventDetailView(APIView):
    """One event by its id (404 when it does not exist or is not the caller's to read)."""

    @extend_schema(operation_id="readIamTheriseunionIoV1alpha1AuditEvent", tags=["iam.theriseunion.io/auditevents"],
                   summary="Read one audit event",
                   responses={200: OpenApiResponse(ref("AuditEvent"), description="The event"),
                              **status_responses(404)})
    def get(self, request, name: str):
        """The event's manifest."""
        event = query.visible_events(request.user).filter(id=int(name)).first() if name.isdigit() else None
        if event is None:
            raise not_found(query.PLURAL, name, query.GROUP)
        return Response(query.to_manifest(event))
