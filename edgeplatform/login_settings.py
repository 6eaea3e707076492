"""Settings of the optional login methods (OIDC, LDAP), computed from the environment.

Imported by ``edgeplatform/settings.py`` before Django is set up, so nothing here may touch Django's
settings, models or apps. Each function returns a dict of setting names to values.
"""
from __future__ import annotations

import json
import urllib.request

from django.core.exceptions import ImproperlyConfigured

#: OpenID provider metadata key → mozilla-django-oidc setting
DISCOVERED = {
    "authorization_endpoint": "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "token_endpoint": "OIDC_OP_TOKEN_ENDPOINT",
    "userinfo_endpoint": "OIDC_OP_USER_ENDPOINT",
    "jwks_uri": "OIDC_OP_JWKS_ENDPOINT",
    "end_session_endpoint": "OIDC_OP_LOGOUT_ENDPOINT",
}
ENDPOINTS = ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT",
             "OIDC_OP_JWKS_ENDPOINT")


def discover(issuer: str, timeout: float = 5.0) -> dict:
    """The provider's endpoints from ``<issuer>/.well-known/openid-configuration``, as setting names."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            metadata = json.load(response)
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"EDGE_OIDC_ISSUER: cannot read the OpenID provider configuration at {url} ({exc}); fix the issuer "
            "or set OIDC_OP_AUTHORIZATION_ENDPOINT, OIDC_OP_TOKEN_ENDPOINT, OIDC_OP_USER_ENDPOINT and "
            "OIDC_OP_JWKS_ENDPOINT explicitly") from exc
    return {setting: metadata[key] for key, setting in DISCOVERED.items() if metadata.get(key)}


def oidc_settings(env) -> dict:
    """mozilla-django-oidc settings; ``OIDC_ENABLED`` is true when a client and a provider are configured.

    Explicit ``OIDC_OP_*`` endpoints win; missing ones are discovered once, at startup, from
    ``EDGE_OIDC_ISSUER``.
    """
    out = {
        "OIDC_RP_CLIENT_ID": env.str("OIDC_RP_CLIENT_ID", default=""),
        "OIDC_RP_CLIENT_SECRET": env.str("OIDC_RP_CLIENT_SECRET", default=""),
        "OIDC_RP_SIGN_ALGO": env.str("OIDC_RP_SIGN_ALGO", default="RS256"),
        "OIDC_RP_SCOPES": env.str("OIDC_RP_SCOPES", default="openid email profile"),
        "OIDC_VERIFY_SSL": env.bool("OIDC_VERIFY_SSL", default=True),
        "OIDC_TIMEOUT": env.int("OIDC_TIMEOUT", default=10),
        "OIDC_USE_PKCE": env.bool("OIDC_USE_PKCE", default=True),
        "OIDC_CREATE_USER": env.bool("OIDC_CREATE_USER", default=True),
        "EDGE_OIDC_ISSUER": env.str("EDGE_OIDC_ISSUER", default=""),
        "EDGE_OIDC_USERNAME_CLAIM": env.str("EDGE_OIDC_USERNAME_CLAIM", default="preferred_username"),
        "EDGE_OIDC_GROUPS_CLAIM": env.str("EDGE_OIDC_GROUPS_CLAIM", default="groups"),
        "EDGE_OIDC_SYNC_GROUPS": env.bool("EDGE_OIDC_SYNC_GROUPS", default=True),
        "EDGE_OIDC_LINK_LOCAL_USERS": env.bool("EDGE_OIDC_LINK_LOCAL_USERS", default=False),
    }
    for setting in (*ENDPOINTS, "OIDC_OP_LOGOUT_ENDPOINT"):
        value = env.str(setting, default="")
        if value:
            out[setting] = value
    wanted = bool(out["OIDC_RP_CLIENT_ID"]) and (bool(out["EDGE_OIDC_ISSUER"]) or
                                                 all(setting in out for setting in ENDPOINTS))
    if wanted and not all(setting in out for setting in ENDPOINTS):
        out = {**discover(out["EDGE_OIDC_ISSUER"]), **out}
    if wanted and not out["OIDC_RP_CLIENT_SECRET"]:
        raise ImproperlyConfigured("OIDC_RP_CLIENT_SECRET must be set when OIDC login is configured")
    out["OIDC_ENABLED"] = wanted
    return out


def ldap_settings(env) -> dict:
    """django-auth-ldap settings; LDAP login is on when ``EDGE_LDAP_URI`` is set.

    The search and group settings need python-ldap's constants, so they are built here only when LDAP is on
    (and a missing python-ldap is reported with the command that installs it).
    """
    uri = env.str("EDGE_LDAP_URI", default="")
    out = {"EDGE_LDAP_URI": uri}
    if not uri:
        return out
    try:
        import ldap
        from django_auth_ldap.config import GroupOfNamesType, LDAPSearch
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"EDGE_LDAP_URI is set but LDAP support is not installed ({exc}); run `make setup-ldap` "
            "(Debian packages libldap2-dev libsasl2-dev, then requirements-ldap.txt)") from exc
    user_base = env.str("EDGE_LDAP_USER_BASE", default="")
    if not user_base:
        raise ImproperlyConfigured("EDGE_LDAP_USER_BASE must be set when EDGE_LDAP_URI is set")
    out.update({
        "AUTH_LDAP_SERVER_URI": uri,
        "AUTH_LDAP_BIND_DN": env.str("EDGE_LDAP_BIND_DN", default=""),
        "AUTH_LDAP_BIND_PASSWORD": env.str("EDGE_LDAP_BIND_PASSWORD", default=""),
        "AUTH_LDAP_START_TLS": env.bool("EDGE_LDAP_START_TLS", default=False),
        "AUTH_LDAP_USER_SEARCH": LDAPSearch(user_base, ldap.SCOPE_SUBTREE,
                                            env.str("EDGE_LDAP_USER_FILTER", default="(uid=%(user)s)")),
        "AUTH_LDAP_USER_ATTR_MAP": {"email": env.str("EDGE_LDAP_EMAIL_ATTR", default="mail")},
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        "EDGE_LDAP_MIRROR_GROUPS": False,
    })
    group_base = env.str("EDGE_LDAP_GROUP_BASE", default="")
    if group_base:
        out["AUTH_LDAP_GROUP_SEARCH"] = LDAPSearch(
            group_base, ldap.SCOPE_SUBTREE, env.str("EDGE_LDAP_GROUP_FILTER", default="(objectClass=groupOfNames)"))
        out["AUTH_LDAP_GROUP_TYPE"] = GroupOfNamesType(name_attr="cn")
        out["EDGE_LDAP_MIRROR_GROUPS"] = env.bool("EDGE_LDAP_MIRROR_GROUPS", default=True)
    return out
