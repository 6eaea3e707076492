"""Actions on app store objects, under their URLs (``/oapis/app.theriseunion.io/v1alpha1/``):

* ``POST applicationversions/<name>/review`` ``{"decision": "Approve"|"Reject", "message": "..."}`` — decide a
  Pending version (``appstore.review.decide``): needs ``review`` on applicationversions at the version's scope,
  and a reviewer other than its submitter (403); a version that is not Pending is 409. Answers the version.
* ``POST applicationversions/<name>/deprecate`` ``{"deprecated": true|false}`` — (un)deprecate an Approved
  version (``appstore.review.set_deprecated``): an ``update`` through the write path. Answers the version.
* ``POST namespaces/<ns>/applicationdeployments/<name>/rollback`` ``{"version": "1.2.0"}`` (optional: the version
  the last change replaced) — write that version into ``spec.version`` (``appstore.services.rollback``): an
  ``update`` through the write path; the controller then rolls every topology back. Answers the deployment.

An object the caller may not see is 404, as a missing one; one they may see but not act on is 403; bad input is a
422 Status naming the field. Every action is audited (``approve``/``reject`` events, the write path's ``update``).
"""
from __future__ import annotations

from django.urls import re_path
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from appstore import review, services
from appstore.manifests import GROUP
from appstore.models import ApplicationDeployment, ApplicationVersion
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.errors import cause, invalid, not_found
from edgeplatform.resources.names import DNS1123_LABEL_BODY, NAME_IN_URL
from edgeplatform.resources.openapi import body_types, ref, status_responses

__all__ = ["DeprecateView", "ReviewView", "RollbackView", "urlpatterns"]

ROLLBACK_BODY = inline_serializer("ApplicationDeploymentRollback", {
    "version": serializers.CharField(required=False, help_text="The exact version to go back to; none: the one the "
                                                               "last change replaced (status.history).")})


class ActionSchema(AutoSchema):
    """An action's body is required (a JSON object, ``{}`` at least) even when none of its fields is."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        """The operation, its request body required."""
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation and "requestBody" in operation:
            operation["requestBody"]["required"] = True
        return operation
VERSION_TAGS = [f"{GROUP}/applicationversions"]
DEPLOYMENT_TAGS = [f"{GROUP}/applicationdeployments"]


def _body(request, kind: str, name: str, allowed: set[str]) -> dict:
    """The request's JSON object; 422 naming any field the action does not take."""
    body = request.data if isinstance(request.data, dict) else None
    if body is None:
        raise invalid(kind, name, [cause("body", "must be a JSON object")], GROUP)
    unknown = sorted(set(body) - allowed - {"apiVersion", "kind"})
    if unknown:
        raise invalid(kind, name, [cause(field, "unknown field", "FieldValueNotSupported") for field in unknown],
                      GROUP)
    return body


def _version(request, name: str) -> ApplicationVersion:
    row = ApplicationVersion.objects.restrict(request.user, "get").select_related("application") \
        .filter(name=name).first()
    if row is None:
        raise not_found("applicationversions", name, GROUP)
    return row


def _answer(row) -> Response:
    return Response(converter_for(row).to_manifest(row))


class ReviewView(APIView):
    """Approve or reject a Pending application version."""

    @extend_schema(operation_id="createAppTheriseunionIoV1alpha1ApplicationVersionReview", tags=VERSION_TAGS,
                   summary="Approve or reject a Pending version (by a reviewer other than its submitter)",
                   request=body_types(inline_serializer("ApplicationVersionReview", {
                       "decision": serializers.ChoiceField(choices=["Approve", "Reject"],
                                                           help_text="Approve or Reject."),
                       "message": serializers.CharField(required=False, allow_blank=True,
                                                        help_text="The reviewer's note (status.reviewMessage).")})),
                   responses={200: OpenApiResponse(ref("ApplicationVersion"),
                                                   description="The version, with its decision in status"),
                              **status_responses(404, 409, 422, body=True)})
    def post(self, request, name: str):
        """Decide the version; answer its manifest."""
        version = _version(request, name)
        body = _body(request, "ApplicationVersionReview", name, {"decision", "message"})
        decision, message = body.get("decision"), body.get("message", "")
        problems = []
        if decision not in ("Approve", "Reject"):
            problems.append(cause("decision", "must be Approve or Reject",
                                  "FieldValueRequired" if decision is None else "FieldValueNotSupported"))
        if not isinstance(message, str):
            problems.append(cause("message", "must be a string"))
        if problems:
            raise invalid("ApplicationVersionReview", name, problems, GROUP)
        return _answer(review.decide(version, decision, user=request.user, message=message))


class DeprecateView(APIView):
    """Deprecate an approved application version, or take the deprecation back."""

    @extend_schema(operation_id="createAppTheriseunionIoV1alpha1ApplicationVersionDeprecate", tags=VERSION_TAGS,
                   summary="Deprecate an approved version (no new deployments; running ones keep it), or undo it",
                   request=body_types(inline_serializer("ApplicationVersionDeprecation", {
                       "deprecated": serializers.BooleanField(help_text="true: deprecate; false: undeprecate.")})),
                   responses={200: OpenApiResponse(ref("ApplicationVersion"),
                                                   description="The version, with its deprecated label"),
                              **status_responses(404, 409, 422, body=True)})
    def post(self, request, name: str):
        """Write the deprecated label; answer the version's manifest."""
        version = _version(request, name)
        body = _body(request, "ApplicationVersionDeprecation", name, {"deprecated"})
        deprecated = body.get("deprecated")
        if not isinstance(deprecated, bool):
            raise invalid("ApplicationVersionDeprecation", name, [cause(
                "deprecated", "must be true or false", "FieldValueRequired" if deprecated is None
                else "FieldValueInvalid")], GROUP)
        return _answer(review.set_deprecated(version, user=request.user, deprecated=deprecated))


class RollbackView(APIView):
    """Roll a deployment back to an earlier version, declaratively."""

    schema = ActionSchema()

    @extend_schema(operation_id="createAppTheriseunionIoV1alpha1NamespacedApplicationDeploymentRollback",
                   tags=DEPLOYMENT_TAGS,
                   summary="Roll a deployment back: an earlier approved version becomes its spec.version",
                   request=body_types(ROLLBACK_BODY),
                   responses={200: OpenApiResponse(ref("ApplicationDeployment"),
                                                   description="The deployment, its spec.version rolled back"),
                              **status_responses(404, 409, 422, body=True)})
    def post(self, request, namespace: str, name: str):
        """Write the version into the spec; answer the deployment's manifest."""
        deployment = ApplicationDeployment.objects.restrict(request.user, "get") \
            .select_related("cluster", "application").filter(namespace=namespace, name=name).first()
        if deployment is None:
            raise not_found("applicationdeployments", name, GROUP)
        body = _body(request, "ApplicationDeploymentRollback", name, {"version"})
        version = body.get("version")
        if version is not None and (not isinstance(version, str) or not version):
            raise invalid("ApplicationDeploymentRollback", name,
                          [cause("version", "must be an exact version (1.2.0)")], GROUP)
        return _answer(services.rollback(deployment, user=request.user, version=version))


_ROOT = rf"^oapis/{GROUP}/v1alpha1"
_VERSION = rf"{_ROOT}/applicationversions/(?P<name>{NAME_IN_URL})"
_DEPLOYMENT = (rf"{_ROOT}/namespaces/(?P<namespace>{DNS1123_LABEL_BODY})/applicationdeployments/"
               rf"(?P<name>{NAME_IN_URL})")
#: included by the app's URLs
urlpatterns = [
    re_path(rf"{_VERSION}/review/?$", ReviewView.as_view(), name="applicationversion-review"),
    re_path(rf"{_VERSION}/deprecate/?$", DeprecateView.as_view(), name="applicationversion-deprecate"),
    re_path(rf"{_DEPLOYMENT}/rollback/?$", RollbackView.as_view(), name="applicationdeployment-rollback"),
]
