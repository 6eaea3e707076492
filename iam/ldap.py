"""LDAP login (django-auth-ldap), switched on by ``EDGE_LDAP_URI``
(see :func:`edgeplatform.login_settings.ldap_settings`).

Users are looked up with ``EDGE_LDAP_USER_BASE`` / ``EDGE_LDAP_USER_FILTER`` and bound with their password;
their e-mail follows the directory. With ``EDGE_LDAP_GROUP_BASE`` set (and ``EDGE_LDAP_MIRROR_GROUPS`` true,
the default then), the user's directory groups are mirrored into platform groups at every login, so bindings
on those groups apply. Needs python-ldap: ``make setup-ldap``.

What the directory says is written by :func:`mirror_directory_user` through the write path, as the audit actor
``system:ldap`` (see :func:`iam.oidc.sync_identity`): each new group, and the user's creation or change, is one
event; a login that changes nothing writes nothing. It needs no python-ldap, so it can be called (and tested)
with any object shaped like django-auth-ldap's ``_LDAPUser`` (``attrs``, ``group_names``).
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import SuspiciousOperation

from iam.oidc import sync_identity

try:
    from django_auth_ldap.backend import LDAPBackend
except ImportError:  # python-ldap is optional; without it LDAP login cannot be switched on (login_settings says so)
    LDAPBackend = None

__all__ = ["EdgeLDAPBackend", "mirror_directory_user"]


def mirror_directory_user(name: str, entry, user=None):
    """Create (``user=None``) or update the platform user ``name`` from their directory entry ``entry``.

    The e-mail comes from the attribute ``EDGE_LDAP_EMAIL_ATTR`` of ``entry.attrs`` (left alone when missing);
    with ``EDGE_LDAP_MIRROR_GROUPS``, membership is set to exactly ``entry.group_names``, creating missing
    platform groups. Raises SuspiciousOperation when the write path refuses the user.
    """
    attr = (getattr(settings, "AUTH_LDAP_USER_ATTR_MAP", None) or {}).get("email", "mail")
    values = (entry.attrs or {}).get(attr) or []
    groups = sorted(entry.group_names) if getattr(settings, "EDGE_LDAP_MIRROR_GROUPS", False) else None
    return sync_identity("ldap", name, user=user, email=str(values[0]) if values else None, groups=groups)


if LDAPBackend is not None:
    class EdgeLDAPBackend(LDAPBackend):
        """django-auth-ldap's backend; the platform user and their groups are written by
        :func:`mirror_directory_user` once the directory accepted the password."""

        def get_or_build_user(self, username, ldap_user):
            """Called after the bind succeeded: create or update the user through the write path.

            Returns ``built=False`` so that django-auth-ldap does not create the user again itself; it still
            copies ``AUTH_LDAP_USER_ATTR_MAP`` (the e-mail, already equal) and saves, which changes nothing.
            """
            user, built = super().get_or_build_user(username, ldap_user)
            if built and self.settings.NO_NEW_USERS:
                return user, built  # django-auth-ldap refuses the login
            try:
                user = mirror_directory_user(user.name, ldap_user, None if built else user)
            except SuspiciousOperation as error:
                raise ldap_user.AuthenticationFailed(str(error)) from error
            return user, False
