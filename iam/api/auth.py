"""``POST /oauth/token`` (password grant) and ``POST /oauth/revoke`` (RFC 7009)."""
from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from iam import tokens


def oauth_error(code: str, description: str, status: int = 400) -> Response:
    """An RFC 6749 §5.2 error body."""
    return Response({"error": code, "error_description": description}, status=status)


class TokenView(APIView):
    """Exchange a user name and password for a bearer token (seed §15.5.2)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser, JSONParser]

    @extend_schema(
        request=inline_serializer("TokenRequest", {"grant_type": serializers.CharField(),
                                                   "username": serializers.CharField(),
                                                   "password": serializers.CharField()}),
        responses=inline_serializer("TokenResponse", {"access_token": serializers.CharField(),
                                                      "token_type": serializers.CharField(),
                                                      "expires_in": serializers.IntegerField()}),
        tags=["oauth"])
    def post(self, request):
        """The password grant; client_id/client_secret are accepted and not required."""
        grant_type = request.data.get("grant_type")
        if grant_type != "password":
            return oauth_error("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        username, password = request.data.get("username"), request.data.get("password")
        if not username or not password:
            return oauth_error("invalid_request", "username and password are required")
        user = authenticate(request._request, username=username, password=password)
        if user is None or not user.is_active:
            return oauth_error("invalid_grant", "invalid username or password")
        raw, _ = tokens.issue(user, "password")
        return Response({"access_token": raw, "token_type": "Bearer", "expires_in": settings.EDGE_TOKEN_TTL},
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


class RevokeView(APIView):
    """Revoke a token (RFC 7009): always 200, so a caller learns nothing about other tokens."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser, JSONParser]

    @extend_schema(request=inline_serializer("RevokeRequest", {"token": serializers.CharField()}),
                   responses={200: None}, tags=["oauth"])
    def post(self, request):
        """Revoke the token given in the body."""
        raw = request.data.get("token")
        if not raw:
            return oauth_error("invalid_request", "token is required")
        tokens.revoke(raw)
        return Response(status=200)
