"""Bearer tokens for API clients: issued by ``POST /oauth/token``, stored hashed, expiring, revocable."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions

from iam.models import AccessToken

PREFIX = "edge_"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(user, grant_type: str = "password", name: str = "", ttl: int | None = None) -> tuple[str, AccessToken]:
    """A new token for ``user``: the raw value (shown once) and its row."""
    raw = PREFIX + secrets.token_urlsafe(32)
    ttl = settings.EDGE_TOKEN_TTL if ttl is None else ttl
    row = AccessToken.objects.create(key_hash=_digest(raw), user=user, name=name, grant_type=grant_type,
                                     expires=timezone.now() + timedelta(seconds=ttl))
    return raw, row


def revoke(raw: str) -> bool:
    """Revoke a token by its raw value; True if it existed and was live."""
    return AccessToken.objects.filter(key_hash=_digest(raw), revoked=None).update(revoked=timezone.now()) > 0


def lookup(raw: str) -> AccessToken | None:
    """The live token row for a raw value, or None."""
    row = AccessToken.objects.select_related("user").filter(key_hash=_digest(raw)).first()
    return row if row is not None and row.is_valid else None


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>``; expired, revoked or disabled-user tokens are refused."""

    keyword = "Bearer"

    def authenticate(self, request):
        """The token's user, None without a bearer header, 401 for a bad token."""
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("invalid bearer header")
        row = lookup(header[1].decode(errors="replace"))
        if row is None:
            raise exceptions.AuthenticationFailed("the token is invalid, expired or revoked")
        if not row.user.is_active:
            raise exceptions.AuthenticationFailed("the user is disabled")
        if row.last_used is None or (timezone.now() - row.last_used).total_seconds() > 60:
            AccessToken.objects.filter(pk=row.pk).update(last_used=timezone.now())
        return row.user, row

    def authenticate_header(self, request):
        """Makes DRF answer 401 (not 403) to unauthenticated requests."""
        return f'{self.keyword} realm="edge-platform"'
