"""Bearer tokens: issued by ``POST /oauth/token`` or created as personal tokens, stored hashed, revocable.

Three kinds of secrets live here, all random, shown once and stored as SHA-256 only:

- access tokens (``AccessToken``; ``grant_type`` says how they were obtained: ``password``,
  ``client_credentials``, ``refresh_token``, or ``personal`` for tokens a user made by hand);
- refresh tokens (``RefreshToken``), single use: refreshing rotates them, replaying a used one revokes its
  whole family;
- nothing else: API client secrets are in :mod:`iam.clients`.

A user's tokens die with the user: when ``is_active`` goes false every token and refresh token is revoked
(see :func:`_revoke_when_disabled`), and bearer authentication refuses tokens of inactive users anyway.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone
from rest_framework import authentication, exceptions

from iam.models import AccessToken, RefreshToken, User
from iam.token_cache import token_cache

__all__ = ["BasicTokenAuthentication", "BearerTokenAuthentication", "InvalidGrant", "create_personal_token", "issue",
           "issue_refresh", "list_tokens", "lookup", "revoke", "revoke_all", "revoke_client_tokens", "revoke_token",
           "rotate_refresh"]

PREFIX = "edge_"
REFRESH_PREFIX = "edgr_"
PERSONAL = "personal"
_DEFAULT = object()


class InvalidGrant(Exception):
    """A refresh token that cannot be used (unknown, expired, revoked, rotated, or its user disabled)."""


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(user, grant_type: str = "password", name: str = "", ttl: int | None = None, *, client=None,
          expires=_DEFAULT) -> tuple[str, AccessToken]:
    """A new access token for ``user``: the raw value (shown once) and its row.

    The lifetime is ``ttl`` seconds (default ``EDGE_TOKEN_TTL``), or ``expires`` (a datetime, or None for a
    token that never expires) when given.
    """
    raw = PREFIX + secrets.token_urlsafe(32)
    if expires is _DEFAULT:
        expires = timezone.now() + timedelta(seconds=settings.EDGE_TOKEN_TTL if ttl is None else ttl)
    row = AccessToken.objects.create(key_hash=_digest(raw), user=user, name=name, grant_type=grant_type,
                                     expires=expires, client=client)
    # a grant is a login: its actor is the user who got in; a personal token is made by whoever is acting
    _audit("token_issue", row, actor=None if grant_type == PERSONAL else user.get_username(),
           message=f"{grant_type} token issued")
    return raw, row


def issue_refresh(user, access: AccessToken | None, *, client=None, family: str | None = None) -> str:
    """A new refresh token for ``user`` (raw value), lasting ``EDGE_REFRESH_TOKEN_TTL`` seconds."""
    raw = REFRESH_PREFIX + secrets.token_urlsafe(32)
    RefreshToken.objects.create(key_hash=_digest(raw), user=user, client=client, access_token=access,
                                family=family or uuid.uuid4().hex,
                                expires=timezone.now() + timedelta(seconds=settings.EDGE_REFRESH_TOKEN_TTL))
    return raw


def rotate_refresh(raw: str, client=None) -> tuple[User, str, str, RefreshToken]:
    """Use a refresh token: revoke it and return (user, new access token, new refresh token, old row).

    Raises :class:`InvalidGrant` when the token is unknown, expired, revoked, issued to another client, or
    its user is disabled. A token that was already used (rotated) revokes every token of its family: someone
    holds a copy.
    """
    now = timezone.now()
    row = RefreshToken.objects.select_related("user", "client").filter(key_hash=_digest(raw or "")).first()
    if row is None:
        raise InvalidGrant("the refresh token is invalid")
    if row.client_id != (client.pk if client is not None else None):
        raise InvalidGrant("the refresh token was issued to another client")
    if row.rotated:
        _revoke_family(row.family, row.user, now)
        raise InvalidGrant("the refresh token was already used; its tokens are revoked")
    if row.revoked is not None:
        raise InvalidGrant("the refresh token is revoked")
    if row.expires <= now:
        raise InvalidGrant("the refresh token is expired")
    if not row.user.is_active:
        raise InvalidGrant("the user is disabled")
    with transaction.atomic():
        # the conditional update lets exactly one of two concurrent refreshes with the same token win
        if not RefreshToken.objects.filter(pk=row.pk, revoked=None).update(revoked=now, rotated=True):
            raise InvalidGrant("the refresh token is revoked")
        access_raw, access = issue(row.user, "refresh_token", client=row.client)
        refresh_raw = issue_refresh(row.user, access, client=row.client, family=row.family)
    return row.user, access_raw, refresh_raw, row


def _revoke_family(family: str, owner: User, now: datetime) -> None:
    """A used refresh token came back: revoke every token of its family (one event, as its owner, like
    :func:`revoke`: whoever presents a token acts as the user it was issued to)."""
    rows = RefreshToken.objects.filter(family=family)
    access_ids = rows.exclude(access_token=None).values("access_token_id")
    _revoke_bulk(owner, AccessToken.objects.filter(pk__in=access_ids), rows, "a used refresh token was replayed",
                 actor=owner.get_username(), now=now)


def revoke(raw: str) -> bool:
    """Revoke an access or refresh token by its raw value; True if it existed and was live."""
    now = timezone.now()
    digest = _digest(raw)
    for model in (AccessToken, RefreshToken):
        row = model.objects.select_related("user").filter(key_hash=digest, revoked=None).first()
        if row is not None and model.objects.filter(pk=row.pk, revoked=None).update(revoked=now):
            _revoked([row.user_id])
            _audit("token_revoke", row, actor=row.user.get_username(), message=f"{model.__name__} revoked")
            return True
    return False


def revoke_all(user, why: str = "all tokens of the user revoked") -> int:
    """Revoke every live access and refresh token of ``user``; the number revoked (one event saying ``why``)."""
    return _revoke_bulk(user, AccessToken.objects.filter(user=user), RefreshToken.objects.filter(user=user), why)


def revoke_client_tokens(client, why: str) -> int:
    """Revoke every live token issued to the API client ``client``; the number revoked (one event)."""
    return _revoke_bulk(client.user, AccessToken.objects.filter(client=client),
                        RefreshToken.objects.filter(client=client), why)


def _revoke_bulk(user, access, refresh, why: str, *, actor: str | None = None, now: datetime | None = None) -> int:
    """Revoke the live rows of two token querysets of ``user``: one ``token_revoke`` event named after the user
    saying how many and ``why`` (none when nothing was live: nothing changed)."""
    now = now or timezone.now()
    with transaction.atomic():
        revoked_access = access.filter(revoked=None).update(revoked=now)
        revoked_refresh = refresh.filter(revoked=None).update(revoked=now)
        count = revoked_access + revoked_refresh
        if revoked_access:
            _revoked([user.pk])
        if count:
            _record("token_revoke", "AccessToken", user.get_username(), actor=actor,
                    message=f"{count} token{'' if count == 1 else 's'} revoked ({revoked_access} access, "
                            f"{revoked_refresh} refresh): {why}")
    return count


def lookup(raw: str) -> AccessToken | None:
    """The live token row for a raw value (a copy of it and its user: see :mod:`iam.token_cache`), or None."""
    return token_cache.get(_digest(raw), _load)


def _load(digest: str) -> AccessToken | None:
    return AccessToken.objects.select_related("user").filter(key_hash=digest).first()


def _revoked(user_ids) -> None:
    """Tokens of these users were revoked: every process drops its copies (the grant change log)."""
    from iam.signals import record_change

    record_change(list(user_ids))


def personal_expiry_problem(expires: datetime | None) -> str | None:
    """What is wrong with ``expires`` for a personal token (in the past, or beyond
    ``EDGE_PERSONAL_TOKEN_MAX_TTL`` when that is set); None when it is fine. The API and the console ask this."""
    now = timezone.now()
    limit = settings.EDGE_PERSONAL_TOKEN_MAX_TTL
    if expires is None:
        return f"required: tokens may live at most {limit} seconds" if limit else None
    if expires <= now:
        return "must be in the future"
    if limit and expires > now + timedelta(seconds=limit):
        return f"must be at most {limit} seconds from now"
    return None


def create_personal_token(user, name: str, expires: datetime | None = None) -> tuple[str, AccessToken]:
    """A personal API token of ``user`` named ``name``, expiring at ``expires`` (None: never).

    Returns the raw token — shown to its owner once, never stored — and its row. The caller validates.
    """
    return issue(user, PERSONAL, name=name, expires=expires)


def list_tokens(user):
    """The live (neither expired nor revoked) access tokens of ``user``, newest first; rows carry no secret."""
    now = timezone.now()
    return (AccessToken.objects.filter(user=user, revoked=None).filter(Q(expires=None) | Q(expires__gt=now))
            .order_by("-created", "-pk"))


def revoke_token(user, token_id: int) -> bool:
    """Revoke the token ``token_id`` of ``user``; False when ``user`` has no such live token.

    Revoking an access token also revokes the refresh token issued with it.
    """
    now = timezone.now()
    done = AccessToken.objects.filter(user=user, pk=token_id, revoked=None).update(revoked=now) > 0
    if done:
        RefreshToken.objects.filter(access_token_id=token_id, revoked=None).update(revoked=now)
        _revoked([user.pk])
        _audit("token_revoke", AccessToken(pk=token_id, user=user), message="AccessToken revoked")
    return done


def _audit(verb: str, row, *, actor: str | None = None, message: str = "") -> None:
    """One audit event for a token issued or revoked (never its secret: only its id, name and owner)."""
    _record(verb, type(row).__name__, f"{row.user.get_username()}/{getattr(row, 'name', '') or row.pk}",
            actor=actor, message=message)


def _record(verb: str, kind: str, name: str, *, actor: str | None, message: str) -> None:
    from iam import audit

    audit.record(verb, resource="accesstokens", group="iam.theriseunion.io", kind=kind, name=name,
                 scope_path="platform", actor=actor, message=message)


@receiver(pre_save, sender=User)
def _remember_active(sender, instance, **kwargs):
    before = User.objects.filter(pk=instance.pk).values_list("is_active", "password").first() if instance.pk else None
    instance._was_active, instance._old_password = before if before else (None, None)


@receiver(post_save, sender=User)
def _revoke_when_disabled(sender, instance, created, **kwargs):
    """Disabling a user or changing their password (API, console, shell) revokes all of their tokens in the same
    transaction: whoever held a token or the old password is out."""
    if created:
        return
    disabled = getattr(instance, "_was_active", None) and not instance.is_active
    new_password = getattr(instance, "_old_password", None) not in (None, instance.password)
    if disabled or new_password:
        reasons = [what for what, happened in (("user disabled", disabled), ("password changed", new_password))
                   if happened]
        revoke_all(instance, " and ".join(reasons))


def _token_user(raw: str, username: str | None = None) -> tuple[User, AccessToken]:
    """(user, token) of a live token (of ``username`` when given); ``AuthenticationFailed`` otherwise."""
    row = lookup(raw)
    if row is None:
        raise exceptions.AuthenticationFailed("the token is invalid, expired or revoked")
    if not row.user.is_active:
        raise exceptions.AuthenticationFailed("the user is disabled")
    if username is not None and username != row.user.get_username():
        raise exceptions.AuthenticationFailed("the token is not the user's")
    now = timezone.now()
    if row.last_used is None or (now - row.last_used).total_seconds() > 60:
        AccessToken.objects.filter(pk=row.pk).update(last_used=now)
        token_cache.touched(row.key_hash, now)
    return row.user, row


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
        return _token_user(header[1].decode(errors="replace"))

    def authenticate_header(self, request):
        """Makes DRF answer 401 (not 403) to unauthenticated requests."""
        return f'{self.keyword} realm="edge-platform"'


class BasicTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Basic`` with a platform token as the password, as Helm sends ``--username/--password``
    (the user name, when given, must be the token's owner). A password that is no token is refused: passwords
    are for the login form and the password grant, where the lockout applies."""

    def authenticate(self, request):
        """The token's user, None without a basic header, 401 for a bad one."""
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"basic":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("invalid basic header")
        try:
            username, _, raw = base64.b64decode(header[1], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("invalid basic header") from None
        return _token_user(raw, username or None)

    def authenticate_header(self, request):
        """Makes DRF answer 401 with a Basic challenge, so Helm retries with its credentials."""
        return 'Basic realm="edge-platform"'
