"""OpenID Connect login (mozilla-django-oidc): claims become a platform user and their groups.

Switched on by settings alone (see :func:`edgeplatform.login_settings.oidc_settings`). The user name comes from
the ``EDGE_OIDC_USERNAME_CLAIM`` claim (default ``preferred_username``), lowercased and with characters a
platform name cannot hold turned into ``-`` (``Ann@Corp.com`` → ``ann-corp.com``). E-mail and display name
follow the ``email`` and ``name`` claims at every login. Group membership is set to exactly the groups in the
``EDGE_OIDC_GROUPS_CLAIM`` claim (default ``groups``), creating missing groups, so bindings on those groups
apply to the user.

A user created by a local admin is never taken over by an OpenID login of the same name unless
``EDGE_OIDC_LINK_LOCAL_USERS`` is true: users made here carry the ``iam.theriseunion.io/identity-provider``
label.
"""
from __future__ import annotations

import copy
import dataclasses
import logging
import re
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from edgeplatform.resources import services
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.errors import StatusError
from edgeplatform.resources.names import DNS1123_SUBDOMAIN
from iam.audit import context as audit_context
from iam.models import User, UserGroup

__all__ = ["PROVIDER_LABEL", "EdgeOIDCBackend", "ensure_groups", "platform_name", "sync_identity"]

log = logging.getLogger(__name__)
PROVIDER_LABEL = "iam.theriseunion.io/identity-provider"
_BAD = re.compile(r"[^-a-z0-9.]+")


def platform_name(value) -> str:
    """A claim value as a platform object name (lowercase letters, digits, ``-`` and ``.``), or ""."""
    name = _BAD.sub("-", str(value or "").strip().lower()).strip("-.")
    return name[:253]


class EdgeOIDCBackend(OIDCAuthenticationBackend):
    """Maps ID token / userinfo claims to users and group memberships."""

    def username_of(self, claims: dict) -> str:
        """The platform user name the claims name."""
        return platform_name(claims.get(settings.EDGE_OIDC_USERNAME_CLAIM))

    def verify_claims(self, claims):
        """The user-name claim must be present and usable."""
        return bool(self.username_of(claims))

    def filter_users_by_claims(self, claims):
        """The user of that name, if it came from this provider (or linking local users is allowed)."""
        users = User.objects.filter(name=self.username_of(claims))
        user = users.first()
        if user is not None and user.labels.get(PROVIDER_LABEL) != "oidc" and not settings.EDGE_OIDC_LINK_LOCAL_USERS:
            raise SuspiciousOperation(f'user "{user.name}" exists locally and is not linked to the OpenID provider')
        return users

    def create_user(self, claims):
        """A new user (no password: it can only get in through the provider) as the claims describe them."""
        return sync_identity("oidc", self.username_of(claims), **self.identity_of(claims))

    def update_user(self, user, claims):
        """E-mail, display name and group membership follow the claims."""
        return sync_identity("oidc", user.name, user=user, **self.identity_of(claims))

    def identity_of(self, claims: dict) -> dict:
        """What the claims say about the user: e-mail, display name and (when synced) groups."""
        groups = None
        if settings.EDGE_OIDC_SYNC_GROUPS:
            raw = claims.get(settings.EDGE_OIDC_GROUPS_CLAIM) or []
            groups = [raw] if isinstance(raw, str) else list(raw)
        name = claims.get("name")
        return {"email": claims.get("email") or None, "display_name": str(name) if name else None, "groups": groups}


def sync_identity(provider: str, name: str, *, user: User | None = None, email: str | None = None,
                  display_name: str | None = None, groups: list | None = None) -> User:
    """Create (``user=None``) or update the user ``name`` as an identity provider describes them.

    Through the write path as the system, under the audit actor ``system:<provider>``: missing groups are
    created first (one event each), then the user is written once (one event, ``spec.groups`` in its diff),
    or not at all when nothing differs. ``email``/``display_name`` None leave them as they are; ``groups`` (names
    as the provider spells them) None leaves membership alone. A new user carries the identity-provider label
    ``provider`` and no password. Raises SuspiciousOperation (the login fails) when the write path refuses the
    user, e.g. a reserved or malformed name.
    """
    converter = converter_for(User)
    with acting_for(provider), transaction.atomic():
        if user is None:
            current = None
            manifest = {"apiVersion": converter.api_version, "kind": converter.kind,
                        "metadata": {"name": name, "labels": {PROVIDER_LABEL: provider}}, "spec": {}}
        else:
            user = User.objects.select_for_update().get(pk=user.pk)
            current = converter.to_manifest(user)
            manifest = copy.deepcopy(current)
        spec = manifest["spec"]
        if email is not None:
            spec["email"] = email
        if display_name:
            spec["displayName"] = display_name[:128]
        if groups is not None:
            spec["groups"] = ensure_groups(groups, provider)
        if manifest == current:
            return user
        try:
            return services.save_manifest(converter, manifest, instance=user, url_name=name)
        except StatusError as error:
            raise SuspiciousOperation(f'{provider} user "{name}" refused: {error.message}') from error


def ensure_groups(values, provider: str) -> list[str]:
    """The platform group names of the groups named by ``values``, creating missing groups through the write
    path as the system (labelled with the identity provider ``provider``), sorted.

    Names go through :func:`platform_name`; one that still is no valid object name is left out (and logged).
    """
    names = sorted({platform_name(value) for value in values} - {""})
    valid = [name for name in names if DNS1123_SUBDOMAIN.fullmatch(name)]
    if len(valid) != len(names):
        log.warning("%s: group names that cannot be platform names left out: %s", provider,
                    sorted(set(names) - set(valid)))
    existing = set(UserGroup.objects.filter(name__in=valid).values_list("name", flat=True))
    converter = converter_for(UserGroup)
    for name in valid:
        if name in existing:
            continue
        manifest = {"apiVersion": converter.api_version, "kind": converter.kind,
                    "metadata": {"name": name, "labels": {PROVIDER_LABEL: provider}}, "spec": {}}
        try:
            services.save_manifest(converter, manifest)
        except StatusError as error:
            if error.status_code != 409:  # 409: another login created it meanwhile, which is as good
                raise
    return valid


@contextmanager
def acting_for(provider: str):
    """Run a block under the audit actor ``system:<provider>``, keeping the request id, address and user agent
    of the work in progress (the login), so its events sit beside the login's."""
    outer = audit_context.current()
    name = f"system:{provider}"
    context = (dataclasses.replace(outer, actor_name=name, request=None, pending_denial=None, denial_recorded=False)
               if outer is not None else audit_context.AuditContext(actor_name=name))
    token = audit_context.push(context)
    try:
        yield context
    finally:
        audit_context.pop(token)
