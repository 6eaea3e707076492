"""``POST /oauth/token`` (password, client-credentials and refresh grants) and ``POST /oauth/revoke`` (RFC 7009).

Errors have the RFC 6749 §5.2 shape ``{"error", "error_description"}``. A password login refused by the
brute-force lockout answers HTTP 429 with ``invalid_grant`` and ``Retry-After`` (see :mod:`iam.lockout`).
"""
import base64
import binascii

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from iam import clients, lockout, tokens

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
GRANTS = ("password", "client_credentials", "refresh_token")


def oauth_error(code: str, description: str, status: int = 400, headers: dict | None = None) -> Response:
    """An RFC 6749 §5.2 error body."""
    return Response({"error": code, "error_description": description}, status=status,
                    headers={**NO_STORE, **(headers or {})})


def client_credentials(request) -> tuple[str, str]:
    """client_id and client_secret from HTTP Basic (RFC 6749 §2.3.1) or the body."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return request.data.get("client_id") or "", request.data.get("client_secret") or ""


class TokenView(APIView):
    """Exchange credentials for a bearer token (seed §15.5.2), plus client-credentials and refresh grants."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser, JSONParser]

    @extend_schema(
        request=inline_serializer("TokenRequest", {
            "grant_type": serializers.ChoiceField(choices=GRANTS),
            "username": serializers.CharField(required=False), "password": serializers.CharField(required=False),
            "client_id": serializers.CharField(required=False),
            "client_secret": serializers.CharField(required=False),
            "refresh_token": serializers.CharField(required=False)}),
        responses=inline_serializer("TokenResponse", {"access_token": serializers.CharField(),
                                                      "token_type": serializers.CharField(),
                                                      "expires_in": serializers.IntegerField(),
                                                      "refresh_token": serializers.CharField(required=False)}),
        tags=["oauth"])
    def post(self, request):
        """Dispatch on ``grant_type``."""
        grant_type = request.data.get("grant_type")
        if grant_type not in GRANTS:
            return oauth_error("unsupported_grant_type", f"grant_type {grant_type!r} is not supported; use one of "
                                                         f"{', '.join(GRANTS)}")
        client_id, secret = client_credentials(request)
        client = None
        if secret or grant_type == "client_credentials":
            if not client_id or not secret:
                return oauth_error("invalid_client", "client_id and client_secret are required", 401,
                                   {"WWW-Authenticate": 'Basic realm="edge-platform"'})
            client = clients.authenticate_client(client_id, secret)
            if client is None:
                return oauth_error("invalid_client", "unknown client or wrong client_secret", 401,
                                   {"WWW-Authenticate": 'Basic realm="edge-platform"'})
        return getattr(self, grant_type)(request, client)

    def password(self, request, client):
        """Resource owner password grant; a registered client, when it authenticates, is recorded."""
        username, password = request.data.get("username"), request.data.get("password")
        missing = [field for field, value in (("username", username), ("password", password)) if not value]
        if missing:
            return oauth_error("invalid_request", f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                                                  "required")
        django_request = request._request
        user = authenticate(django_request, username=username, password=password)
        if getattr(django_request, "axes_locked_out", False):
            # AxesMiddleware replaces this answer with lockout_response (429, Retry-After); this body is the same
            # shape for when the middleware is not installed.
            return oauth_error("invalid_grant", "the account is locked after repeated failed logins", 429)
        if user is None or not user.is_active:
            return oauth_error("invalid_grant", "invalid username or password")
        lockout.record_success(django_request, username)
        return self.issue(user, "password", client)

    def client_credentials(self, request, client):
        """Client-credentials grant: a token for the client's service-account user, without a refresh token."""
        if not client.user.is_active:
            return oauth_error("invalid_client", "the client's service account is disabled", 401)
        raw, _ = tokens.issue(client.user, "client_credentials", name=client.client_id, client=client)
        return Response({"access_token": raw, "token_type": "Bearer", "expires_in": settings.EDGE_TOKEN_TTL},
                        headers=NO_STORE)

    def refresh_token(self, request, client):
        """Refresh grant: the refresh token is single use and comes back rotated."""
        raw = request.data.get("refresh_token")
        if not raw:
            return oauth_error("invalid_request", "refresh_token is required")
        try:
            _, access, refresh, _ = tokens.rotate_refresh(raw, client)
        except tokens.InvalidGrant as exc:
            return oauth_error("invalid_grant", str(exc))
        return Response({"access_token": access, "token_type": "Bearer", "expires_in": settings.EDGE_TOKEN_TTL,
                         "refresh_token": refresh}, headers=NO_STORE)

    @staticmethod
    def issue(user, grant_type: str, client) -> Response:
        """An access token and a refresh token."""
        raw, row = tokens.issue(user, grant_type, client=client)
        refresh = tokens.issue_refresh(user, row, client=client)
        return Response({"access_token": raw, "token_type": "Bearer", "expires_in": settings.EDGE_TOKEN_TTL,
                         "refresh_token": refresh}, headers=NO_STORE)


class RevokeView(APIView):
    """Revoke an access or refresh token (RFC 7009): always 200, so a caller learns nothing about other tokens."""

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
