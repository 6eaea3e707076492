"""The revision history of a component and a rollback, under the component's URL:

* ``GET  /oapis/ext.theriseunion.io/v1alpha1/namespaces/<ns>/components/<name>/revisions`` — the Helm revisions
  the controller made, newest first (``ComponentRevisionList``); needs ``get`` on the component;
* ``POST /oapis/ext.theriseunion.io/v1alpha1/namespaces/<ns>/components/<name>/rollback`` with
  ``{"revision": N}`` — writes that revision's chart version and values into the spec (an ``update``, through
  the write path: authorized by the engine and audited); the controller then upgrades. Answers the component.

A component the caller may not see is 404, as a missing one; one they may see but not change is 403.
"""
from __future__ import annotations

from django.urls import re_path
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from components import services
from components.models import Component
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.errors import cause, invalid, not_found
from edgeplatform.resources.names import DNS1123_LABEL_BODY, NAME_IN_URL
from edgeplatform.resources.openapi import body_types, list_of, ref, status_responses

__all__ = ["RevisionsView", "RollbackView", "urlpatterns"]

GROUP = "ext.theriseunion.io"
API_VERSION = f"{GROUP}/v1alpha1"


def _component(request, namespace: str, name: str, verb: str = "get") -> Component:
    component = Component.objects.restrict(request.user, verb).select_related("cluster") \
        .filter(namespace=namespace, name=name).first()
    if component is None:
        raise not_found("components", name, GROUP)
    return component


REVISION_FIELDS = {
    "revision": serializers.IntegerField(help_text="The Helm revision."),
    "status": serializers.CharField(help_text="deployed, superseded, failed, … (Helm's words)."),
    "chartVersion": serializers.CharField(help_text="The chart version installed."),
    "appVersion": serializers.CharField(help_text="The chart's appVersion."),
    "description": serializers.CharField(help_text="What made the revision (Install complete, Rollback to 1, …)."),
    "time": serializers.DateTimeField(help_text="When it was made."),
}
TAGS = [f"{GROUP}/components"]


class RevisionsView(APIView):
    """A component's Helm revision history, newest first."""

    @extend_schema(operation_id="listExtTheriseunionIoV1alpha1NamespacedComponentRevision", tags=TAGS,
                   summary="A component's Helm revision history, newest first",
                   responses={200: OpenApiResponse(list_of("ComponentRevision", API_VERSION, REVISION_FIELDS),
                                                   description="The revisions"),
                              **status_responses(404)})
    def get(self, request, namespace: str, name: str):
        """``ComponentRevisionList`` of the component."""
        component = _component(request, namespace, name)
        return Response({"apiVersion": API_VERSION, "kind": "ComponentRevisionList",
                         "metadata": {"name": component.name, "namespace": component.namespace},
                         "items": services.revisions(component)})


class RollbackView(APIView):
    """Roll a component back to an earlier revision, declaratively."""

    @extend_schema(operation_id="createExtTheriseunionIoV1alpha1NamespacedComponentRollback", tags=TAGS,
                   summary="Roll a component back: that revision's version and values become its spec",
                   request=body_types(inline_serializer("ComponentRollback", {
                       "revision": serializers.IntegerField(min_value=1, help_text="The revision to go back to.")})),
                   responses={200: OpenApiResponse(ref("Component"),
                                                   description="The component, its spec rolled back"),
                              **status_responses(404, 409, 422, body=True)})
    def post(self, request, namespace: str, name: str):
        """Write the revision's version and values into the spec; answer the component's manifest."""
        component = _component(request, namespace, name)
        body = request.data if isinstance(request.data, dict) else {}
        revision = body.get("revision")
        if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
            raise invalid("Component", name, [cause("revision", "must be a revision number (an integer ≥ 1)")],
                          GROUP)
        saved = services.rollback(component, revision, user=request.user)
        return Response(converter_for(saved).to_manifest(saved))


_PREFIX = rf"^oapis/{GROUP}/v1alpha1/namespaces/(?P<namespace>{DNS1123_LABEL_BODY})/components/(?P<name>{NAME_IN_URL})"
#: included by the project's URLs
urlpatterns = [
    re_path(rf"{_PREFIX}/revisions/?$", RevisionsView.as_view(), name="component-revisions"),
    re_path(rf"{_PREFIX}/rollback/?$", RollbackView.as_view(), name="component-rollback"),
]
