"""OpenID Connect login (mozilla-django-oidc): claims become a platform user and their groups.

Switched on by settings alone (see :func:`iam.login_settings.oidc_settings`). The user name comes from the
``EDGE_OIDC_USERNAME_CLAIM`` claim (default ``preferred_username``), lowercased and with characters a
platform name cannot hold turned into ``-`` (``Ann@Corp.com`` → ``ann-corp.com``). E-mail and display name
follow the ``email`` and ``name`` claims at every login. Group membership is set to exactly the groups in the
``EDGE_OIDC_GROUPS_CLAIM`` claim (default ``groups``), creating missing groups, so bindings on those groups
apply to the user.

A user created by a local admin is never taken over by an OpenID login of the same name unless
``EDGE_OIDC_LINK_LOCAL_USERS`` is true: users made here carry the ``iam.theriseunion.io/identity-provider``
label.
"""
from __future__ import annotations

import logging
import re

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from iam.models import User, UserGroup

__all__ = ["PROVIDER_LABEL", "EdgeOIDCBackend", "platform_groups", "platform_name"]

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

    @transaction.atomic
    def create_user(self, claims):
        """A new user (no password: it can only get in through the provider), then the claims applied."""
        user = User.objects.create_user(self.username_of(claims), email=claims.get("email") or "",
                                        labels={PROVIDER_LABEL: "oidc"})
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user, claims):
        """E-mail, display name and group membership follow the claims."""
        spec = dict(user.spec or {})
        if claims.get("name"):
            spec["displayName"] = str(claims["name"])[:128]
        email = claims.get("email") or user.email
        if spec != user.spec or email != user.email:
            user.spec, user.email = spec, email
            user.save()
        if settings.EDGE_OIDC_SYNC_GROUPS:
            user.groups.set(self.groups_of(claims))
        return user

    def groups_of(self, claims: dict) -> list[Group]:
        """The auth groups of the claimed groups, creating platform groups that do not exist yet."""
        raw = claims.get(settings.EDGE_OIDC_GROUPS_CLAIM) or []
        return platform_groups([raw] if isinstance(raw, str) else raw, "oidc")


def platform_groups(values, provider: str) -> list[Group]:
    """The auth groups under the platform groups named by ``values``, creating missing ones (as the system).

    Names go through :func:`platform_name`; new groups carry the identity-provider label ``provider``.
    """
    names = sorted({platform_name(value) for value in values if platform_name(value)})
    existing = dict(UserGroup.objects.filter(name__in=names).values_list("name", "group_id"))
    missing = [name for name in names if name not in existing]
    if missing:
        from edgeplatform.resources.loader import apply

        apply([{"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Group",
                "metadata": {"name": name, "labels": {PROVIDER_LABEL: provider}}, "spec": {}} for name in missing])
        existing = dict(UserGroup.objects.filter(name__in=names).values_list("name", "group_id"))
    return list(Group.objects.filter(pk__in=existing.values()))
