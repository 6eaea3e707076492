"""LDAP login (django-auth-ldap), switched on by ``EDGE_LDAP_URI`` (see :func:`iam.login_settings.ldap_settings`).

Users are looked up with ``EDGE_LDAP_USER_BASE`` / ``EDGE_LDAP_USER_FILTER`` and bound with their password;
their e-mail follows the directory. With ``EDGE_LDAP_GROUP_BASE`` set (and ``EDGE_LDAP_MIRROR_GROUPS`` true,
the default then), the user's directory groups are mirrored into platform groups at every login, so bindings
on those groups apply. Needs python-ldap: ``make setup-ldap``.
"""
from __future__ import annotations

from django.conf import settings
from django_auth_ldap.backend import LDAPBackend

from iam.oidc import PROVIDER_LABEL, platform_groups

__all__ = ["EdgeLDAPBackend"]


class EdgeLDAPBackend(LDAPBackend):
    """django-auth-ldap's backend, mirroring directory groups into platform groups (``UserGroup``)."""

    def get_or_build_user(self, username, ldap_user):
        """New users made from the directory carry the identity-provider label."""
        user, built = super().get_or_build_user(username, ldap_user)
        if built:
            user.labels = {**(user.labels or {}), PROVIDER_LABEL: "ldap"}
        return user, built

    def authenticate_ldap_user(self, ldap_user, password):
        """Authenticate, then set the user's groups to exactly their directory groups."""
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is not None and settings.EDGE_LDAP_MIRROR_GROUPS:
            user.groups.set(platform_groups(ldap_user.group_names, "ldap"))
        return user
