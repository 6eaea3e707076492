"""SubjectAccessReview with a scope: "may user U do verb V on resource R in scope S?" (DESIGN §3)."""
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from edgeplatform import authz
from edgeplatform.resources.errors import StatusError, cause, flatten_drf_errors, invalid
from edgeplatform.resources.openapi import body_types, ref, status_responses
from iam.engine import engine
from iam.engine import grants as grants_mod
from iam.models import User

GROUP = "iam.theriseunion.io"


class ResourceAttributesSerializer(serializers.Serializer):
    """What is being done."""

    verb = serializers.CharField()
    group = serializers.CharField(required=False, allow_blank=True, default="")
    resource = serializers.CharField()
    name = serializers.CharField(required=False, allow_blank=True, default="")


class ScopeSerializer(serializers.Serializer):
    """Where: a level and the scope object's name (plus its cluster for namespaces and nodes)."""

    level = serializers.ChoiceField(choices=["platform", "cluster", "workspace", "nodegroup", "namespace", "node"])
    value = serializers.CharField(required=False, allow_blank=True, default="")
    cluster = serializers.CharField(required=False, allow_blank=True, default="")


class ReviewSpecSerializer(serializers.Serializer):
    """SubjectAccessReview spec."""

    user = serializers.CharField()
    groups = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    resourceAttributes = ResourceAttributesSerializer()
    scope = ScopeSerializer(required=False)


class SubjectAccessReviewView(APIView):
    """Answer an access question with the engine every other surface uses."""

    @extend_schema(
        operation_id="createIamTheriseunionIoV1alpha1SubjectAccessReview", tags=[f"{GROUP}/subjectaccessreviews"],
        summary="Ask whether a user may do something at a scope",
        request=body_types(inline_serializer("SubjectAccessReview", {
            "apiVersion": serializers.ChoiceField(choices=[f"{GROUP}/v1alpha1"], required=False),
            "kind": serializers.ChoiceField(choices=["SubjectAccessReview"], required=False),
            "spec": ReviewSpecSerializer(),
            "status": inline_serializer("SubjectAccessReviewStatus", {
                "allowed": serializers.BooleanField(),
                "reason": serializers.CharField(help_text="The binding and scope that granted, where the asker "
                                                          "may read bindings."),
                "scopePath": serializers.CharField(help_text="The scope asked about, as a path."),
            }, read_only=True)})),
        responses={201: OpenApiResponse(ref("SubjectAccessReview"), description="The review with its answer"),
                   **status_responses(403, 422, body=True)})
    def post(self, request):
        """Evaluate the review; a user may ask about others only if they may read bindings at that scope."""
        body = request.data if isinstance(request.data, dict) else {}
        serializer = ReviewSpecSerializer(data=body.get("spec"))
        if not serializer.is_valid():
            raise invalid("SubjectAccessReview", "", flatten_drf_errors(serializer.errors, "spec"), GROUP)
        spec = serializer.validated_data
        scope = spec.get("scope") or {"level": "platform", "value": "", "cluster": ""}
        path = authz.known_scope(request.user, scope["level"], scope["value"], scope["cluster"])
        if path is None:  # a hidden scope is answered as a missing one
            raise invalid("SubjectAccessReview", "", [cause("spec.scope", f'{scope["level"]} "{scope["value"]}" '
                                                                          "not found", "FieldValueNotFound")], GROUP)
        asking_for_self = spec["user"] == request.user.get_username() and not spec["groups"]
        if not asking_for_self and not engine.allowed(request.user, "list", GROUP, "iamrolebindings", path):
            raise StatusError(403, f'user "{request.user.get_username()}" may only review their own access at '
                                   f'scope "{path}"', kind="subjectaccessreviews", group=GROUP)
        attrs = spec["resourceAttributes"]
        subject = User.objects.filter(name=spec["user"]).first()
        if subject is None:
            grants = grants_mod.build(0, 0, spec["user"], spec["groups"])
        else:
            own = engine.grants(subject)
            grants = own if not spec["groups"] else grants_mod.build(
                subject.pk, 0, subject.name, [*subject.groups.values_list("name", flat=True), *spec["groups"]],
                active=subject.is_active, superuser=subject.is_superuser)
        def reveal(scope: str) -> bool:  # binding names only where the asker may read bindings
            return asking_for_self or engine.allowed(request.user, "list", GROUP, "iamrolebindings", scope)

        allowed, reason = grants_mod.explain(grants, attrs["verb"], attrs["group"], attrs["resource"], path,
                                             attrs["name"], reveal)
        return Response({"apiVersion": f"{GROUP}/v1alpha1", "kind": "SubjectAccessReview",
                         "spec": serializer.data, "status": {"allowed": allowed, "reason": reason,
                                                              "scopePath": path}}, status=201)
