"""A small, real OpenID Connect provider for tests, serving HTTP on 127.0.0.1.

It implements the authorization-code flow as a browser-less provider would: ``/authorize`` "logs in" the
user whose claims the test chose (no login page) and redirects back with a code; ``/token`` checks the client
secret, the redirect URI and the PKCE verifier and returns an RS256-signed ID token; ``/userinfo`` answers for
the access token; ``/jwks`` publishes the public key; discovery is at ``/.well-known/openid-configuration``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class OIDCProvider:
    """Start with ``with OIDCProvider(client_id, secret) as op``; set ``op.claims`` before each login."""

    def __init__(self, client_id: str, client_secret: str):
        self.client_id, self.client_secret = client_id, client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(4)
        self.claims: dict = {}
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.requests: list[str] = []  # paths served, for assertions
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OIDCProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def metadata(self) -> dict:
        """The discovery document."""
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks", "response_types_supported": ["code"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"]}

    def jwks(self) -> dict:
        """The public signing key."""
        numbers = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                          "n": _b64(numbers.n), "e": _b64(numbers.e)}]}

    def authorize(self, query: dict) -> tuple[int, dict, bytes]:
        """Issue a code for the current claims and send the browser back to the client."""
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}, b'{"error": "invalid_request"}'
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"claims": dict(self.claims), "nonce": query.get("nonce"),
                            "redirect_uri": query["redirect_uri"], "challenge": query.get("code_challenge")}
        location = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
        return 302, {"Location": location}, b""

    def token(self, form: dict, headers) -> tuple[int, dict, bytes]:
        """Exchange a code for an access token and a signed ID token."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {}, b'{"error": "invalid_client"}'
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {}, b'{"error": "invalid_grant"}'
        if grant["challenge"]:
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if digest != grant["challenge"]:
                return 400, {}, b'{"error": "invalid_grant", "error_description": "PKCE"}'
        now = int(time.time())
        claims = grant["claims"]
        id_token = jwt.encode({"iss": self.issuer, "aud": self.client_id, "sub": claims.get("sub", "x"),
                               "iat": now, "exp": now + 300, "nonce": grant["nonce"], **claims},
                              self.key, algorithm="RS256", headers={"kid": self.kid})
        access = secrets.token_urlsafe(16)
        self.access_tokens[access] = claims
        body = {"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}
        return 200, {}, json.dumps(body).encode()

    def userinfo(self, headers) -> tuple[int, dict, bytes]:
        """The claims of the user the access token was issued for."""
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return 401, {}, b'{"error": "invalid_token"}'
        return 200, {}, json.dumps(self.access_tokens[token]).encode()

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status, headers, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlparse(self.path)
                provider.requests.append(url.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    return self._send(200, {}, json.dumps(provider.metadata()).encode())
                if url.path == "/jwks":
                    return self._send(200, {}, json.dumps(provider.jwks()).encode())
                if url.path == "/authorize":
                    return self._send(*provider.authorize(query))
                if url.path == "/userinfo":
                    return self._send(*provider.userinfo(self.headers))
                return self._send(404, {}, b"{}")

            def do_POST(self):
                url = urlparse(self.path)
                provider.requests.append(url.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if url.path == "/token":
                    return self._send(*provider.token(form, self.headers))
                return self._send(404, {}, b"{}")

            def log_message(self, *args):
                pass

        return Handler
