"""``POST /oauth/token`` (password, client-credentials and refresh grants) and ``POST /oauth/revoke`` (RFC 7009).

Errors have the RFC 6749 §5.2 shape ``{"error", "error_description"}``. A password login refused by the
brute-force lockout answers HTTP 429 with ``invalid_grant`` and ``Retry-After`` (see :mod:`iam.lockout`).
"""
import base64
import binascii
import re

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import QueryDict
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from edgeplatform.resources.openapi import oauth_error_responses
from edgeplatform.resources.parsers import JSONParser
from iam import clients, lockout, tokens

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
GRANTS = ("password", "client_credentials", "refresh_token")
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="edge-platform"'}

# The characters each parameter may hold (RFC 6749 Appendix A; RFC 7009 gives ``token`` no grammar of its own,
# and every token this server issues is VSCHAR).
_VSCHAR = re.compile(r"[\x20-\x7e]*\Z")
_UNICODE_NO_CRLF = re.compile(r"[\t\x20-\x7e\x80-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*\Z")
SYNTAX = {"grant_type": _VSCHAR, "client_id": _VSCHAR, "client_secret": _VSCHAR, "refresh_token": _VSCHAR,
          "username": _UNICODE_NO_CRLF, "password": _UNICODE_NO_CRLF, "token": _VSCHAR, "token_type_hint": _VSCHAR}


def _nqschar(text: str) -> str:
    """``error_description`` may only hold NQSCHAR (RFC 6749 §5.2): printable ASCII without ``"`` and ``\\``."""
    text = text.replace('"', "'").replace("\\", "/")
    return "".join(char if " " <= char <= "~" else "?" for char in text)


def oauth_error(code: str, description: str, status: int = 400, headers: dict | None = None) -> Response:
    """An RFC 6749 §5.2 error body."""
    return Response({"error": code, "error_description": _nqschar(description)}, status=status,
                    headers={**NO_STORE, **(headers or {})})


class OAuthError(exceptions.APIException):
    """A refusal the OAuth views answer as an RFC 6749 §5.2 error object."""

    def __init__(self, code: str, description: str, status: int = 400, headers: dict | None = None):
        super().__init__(detail=description)
        self.code, self.description, self.status_code, self.headers = code, description, status, headers or {}


def oauth_params(request) -> dict[str, str]:
    """The request's OAuth parameters, each a string given once; ``invalid_request`` for any other body.

    The body is a form (RFC 6749 §4) or, as this server also accepts, a JSON object. A parameter this server does
    not read is ignored, as RFC 6749 §3.1 asks; one it reads must be a string (JSON null counts as absent), appear
    once (§3.1) and hold only the characters Appendix A allows.
    """
    data = request.data
    if not hasattr(data, "items"):
        raise OAuthError("invalid_request", "the request body must be a form or a JSON object")
    params = {}
    for name, syntax in SYNTAX.items():
        values = data.getlist(name) if isinstance(data, QueryDict) else [data.get(name)]
        values = [value for value in values if value is not None]
        if not values:
            continue
        if len(values) > 1:
            raise OAuthError("invalid_request", f"{name} must not be given more than once")
        if not isinstance(values[0], str):
            raise OAuthError("invalid_request", f"{name} must be a string")
        if not syntax.match(values[0]):
            raise OAuthError("invalid_request", f"{name} holds characters RFC 6749 does not allow")
        params[name] = values[0]
    return params


def client_credentials(request, params: dict[str, str]) -> tuple[str, str]:
    """client_id and client_secret from HTTP Basic (RFC 6749 §2.3.1) or the body."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, ValueError):  # not base64, not ASCII, not UTF-8
            raise OAuthError("invalid_client", "the Basic credentials are not base64 of client_id:client_secret",
                             401, BASIC_CHALLENGE) from None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return params.get("client_id", ""), params.get("client_secret", "")


class OAuthView(APIView):
    """An OAuth endpoint: anyone may call it, it reads forms or JSON and answers JSON, and every refusal (of the
    view, or DRF's: a body that does not decode, an unsupported media type, a wrong method) is an RFC 6749 error
    object, never a Kubernetes Status."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser, JSONParser]
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        """Answer JSON whatever the ``Accept`` header asks (RFC 6749 §5.1 responses are ``application/json``)."""
        return super().perform_content_negotiation(request, force=True)

    def handle_exception(self, exc):
        """Every API exception as an RFC 6749 error object with the exception's HTTP status."""
        if isinstance(exc, OAuthError):
            return oauth_error(exc.code, exc.description, exc.status_code, exc.headers)
        if isinstance(exc, exceptions.APIException):
            description = getattr(exc, "message", None) or str(exc.detail)
            headers = {"Retry-After": str(int(exc.wait))} if getattr(exc, "wait", None) else None
            return oauth_error("invalid_request", description, exc.status_code, headers)
        return super().handle_exception(exc)


class TokenView(OAuthView):
    """Exchange credentials for a bearer token (seed §15.5.2), plus client-credentials and refresh grants."""

    @extend_schema(
        request=inline_serializer("TokenRequest", {
            "grant_type": serializers.ChoiceField(choices=GRANTS),
            "username": serializers.CharField(required=False), "password": serializers.CharField(required=False),
            "client_id": serializers.CharField(required=False),
            "client_secret": serializers.CharField(required=False),
            "refresh_token": serializers.CharField(required=False)}),
        responses={200: OpenApiResponse(inline_serializer("TokenResponse", {
            "access_token": serializers.CharField(), "token_type": serializers.ChoiceField(choices=["Bearer"]),
            "expires_in": serializers.IntegerField(help_text="Seconds the access token lives (EDGE_TOKEN_TTL)."),
            "refresh_token": serializers.CharField(required=False, help_text="Single use; not issued for the "
                                                                             "client-credentials grant.")}),
            description="A bearer token (RFC 6749 §5.1)"), **oauth_error_responses(401, 429)},
        operation_id="oauthToken", summary="Get a bearer token (password, client-credentials or refresh grant)",
        tags=["oauth"])
    def post(self, request):
        """Dispatch on ``grant_type``."""
        params = oauth_params(request)
        grant_type = params.get("grant_type")
        if not grant_type:
            return oauth_error("invalid_request", f"grant_type is required; use one of {', '.join(GRANTS)}")
        if grant_type not in GRANTS:
            return oauth_error("unsupported_grant_type", f"grant_type {grant_type!r} is not supported; use one of "
                                                         f"{', '.join(GRANTS)}")
        client_id, secret = client_credentials(request, params)
        client = None
        if secret or grant_type == "client_credentials":
            if not client_id or not secret:
                return oauth_error("invalid_client", "client_id and client_secret are required", 401,
                                   BASIC_CHALLENGE)
            client = clients.authenticate_client(client_id, secret)
            if client is None:
                return oauth_error("invalid_client", "unknown client or wrong client_secret", 401, BASIC_CHALLENGE)
        return getattr(self, grant_type)(request, params, client)

    def password(self, request, params: dict[str, str], client):
        """Resource owner password grant; a registered client, when it authenticates, is recorded."""
        username, password = params.get("username"), params.get("password")
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

    def client_credentials(self, request, params: dict[str, str], client):
        """Client-credentials grant: a token for the client's service-account user, without a refresh token."""
        if not client.user.is_active:
            return oauth_error("invalid_client", "the client's service account is disabled", 401)
        raw, _ = tokens.issue(client.user, "client_credentials", name=client.client_id, client=client)
        return Response({"access_token": raw, "token_type": "Bearer", "expires_in": settings.EDGE_TOKEN_TTL},
                        headers=NO_STORE)

    def refresh_token(self, request, params: dict[str, str], client):
        """Refresh grant: the refresh token is single use and comes back rotated."""
        raw = params.get("refresh_token")
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


class RevokeView(OAuthView):
    """Revoke an access or refresh token (RFC 7009): always 200, so a caller learns nothing about other tokens."""

    @extend_schema(request=inline_serializer("RevokeRequest", {"token": serializers.CharField()}),
                   responses={200: OpenApiResponse(None, description="Revoked, or never valid (RFC 7009: the same "
                                                                     "answer)"), **oauth_error_responses()},
                   operation_id="oauthRevoke", summary="Revoke an access or refresh token", tags=["oauth"])
    def post(self, request):
        """Revoke the token given in the body."""
        raw = oauth_params(request).get("token")
        if not raw:
            return oauth_error("invalid_request", "token is required")
        tokens.revoke(raw)
        return Response(status=200)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <token>`` (``iam.tokens.BearerTokenAuthentication``) in the OpenAPI document."""

    target_class = tokens.BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        """An HTTP bearer scheme."""
        return {"type": "http", "scheme": "bearer",
                "description": "A token from POST /oauth/token (password, client-credentials or refresh grant) or "
                               "a personal token (users/<name>/tokens)."}
