"""Personal API tokens: ``/oapis/iam.theriseunion.io/v1alpha1/users/<name>/tokens[/<id>]``.

``GET`` lists a user's live tokens (never a secret), ``POST {"name", "expires"}`` creates a personal token and
shows its value once, ``DELETE .../<id>`` revokes one. Users manage their own; managing another user's tokens
needs ``update users`` at the platform.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.errors import StatusError, cause, flatten_drf_errors, invalid, not_found, status_object
from edgeplatform.resources.openapi import body_types, list_of, ref, status_responses
from iam import tokens
from iam.engine import engine, escalation
from iam.models import User

GROUP = "iam.theriseunion.io"
VERSION = f"{GROUP}/v1alpha1"


class CreateTokenSerializer(serializers.Serializer):
    """What a new personal token needs."""

    name = serializers.CharField(max_length=128)
    expires = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_expires(self, value):
        """In the future, and within EDGE_PERSONAL_TOKEN_MAX_TTL when that is set."""
        problem = tokens.personal_expiry_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


def to_item(row) -> dict:
    """A token as the API shows it: everything but the secret."""
    return {"id": row.pk, "name": row.name, "type": row.grant_type, "created": row.created,
            "expires": row.expires, "lastUsed": row.last_used}


def owner(request, name: str) -> User:
    """The user whose tokens these are, if the caller may manage them (403), and if they exist (404)."""
    if request.user.get_username() != name and not engine.allowed(request.user, "update", GROUP, "users",
                                                                    "platform", name=name):
        raise StatusError(403, f'user "{request.user.get_username()}" cannot manage the tokens of user "{name}"',
                          kind="users", name=name, group=GROUP)
    user = User.objects.filter(name=name).first() if "\x00" not in name else None  # no user name holds NUL
    if user is None:
        raise not_found("users", name, GROUP)
    escalation.forbid_taking_over(request.user, user, "metadata.name", converter_for(User), name)
    return user


class UserTokenListView(APIView):
    """A user's tokens: list and create."""

    @extend_schema(
        operation_id="listIamTheriseunionIoV1alpha1UserToken", tags=[f"{GROUP}/users"],
        summary="List a user's live tokens (never their secrets)",
        responses={200: OpenApiResponse(list_of("UserToken", VERSION, {
                "id": serializers.IntegerField(help_text="The token's id (DELETE .../tokens/<id> revokes it)."),
                "name": serializers.CharField(),
                "type": serializers.CharField(help_text="How it was obtained: personal, password, "
                                                        "client_credentials, refresh_token."),
                "created": serializers.DateTimeField(),
                "expires": serializers.DateTimeField(allow_null=True, help_text="null: it never expires."),
                "lastUsed": serializers.DateTimeField(allow_null=True),
            }), description="The user's tokens, newest first"), **status_responses(403, 404)})
    def get(self, request, name):
        """The user's live tokens, newest first."""
        user = owner(request, name)
        return Response({"apiVersion": VERSION, "kind": "UserTokenList", "metadata": {},
                         "items": [to_item(row) for row in tokens.list_tokens(user)]})

    @extend_schema(
        operation_id="createIamTheriseunionIoV1alpha1UserToken", tags=[f"{GROUP}/users"],
        summary="Create a personal token (its value is shown once)",
        request=body_types(CreateTokenSerializer),
        responses={201: OpenApiResponse(inline_serializer("CreatedUserToken", {
            "id": serializers.IntegerField(), "name": serializers.CharField(), "type": serializers.CharField(),
            "created": serializers.DateTimeField(), "expires": serializers.DateTimeField(allow_null=True),
            "lastUsed": serializers.DateTimeField(allow_null=True),
            "token": serializers.CharField(help_text="The bearer token: shown here only, stored hashed.")}),
            description="The new token, with its value"), **status_responses(403, 404, 422, body=True)})
    def post(self, request, name):
        """Create a personal token; the response carries ``token``, its only appearance."""
        user = owner(request, name)
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise invalid("UserToken", "", [cause("", "the body must be a JSON object")], GROUP)
        serializer = CreateTokenSerializer(data=body)
        if not serializer.is_valid():
            raise invalid("UserToken", str(body.get("name") or ""), flatten_drf_errors(serializer.errors), GROUP)
        raw, row = tokens.create_personal_token(user, serializer.validated_data["name"],
                                                serializer.validated_data["expires"])
        return Response({**to_item(row), "token": raw}, status=201, headers={"Cache-Control": "no-store"})


class UserTokenDetailView(APIView):
    """One token of a user: revoke it."""

    @extend_schema(operation_id="deleteIamTheriseunionIoV1alpha1UserToken", tags=[f"{GROUP}/users"],
                   summary="Revoke one of a user's tokens",
                   responses={200: OpenApiResponse(ref("Status"), description="The token was revoked"),
                              **status_responses(403, 404)})
    def delete(self, request, name, token_id):
        """Revoke the token; 404 when the user has no such live token."""
        user = owner(request, name)
        if not tokens.revoke_token(user, int(token_id)):
            raise not_found("tokens", token_id, GROUP)
        return Response(status_object(200, "", f'token {token_id} of user "{name}" revoked',
                                      {"name": str(token_id), "kind": "tokens", "group": GROUP}, success=True))
