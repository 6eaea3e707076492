"""LDAP login wiring (django-auth-ldap): switched on by EDGE_LDAP_URI alone, with a clear error without python-ldap.

No directory server runs in these tests; the LDAP bind itself is django-auth-ldap's.
"""
import importlib.util

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured

from edgeplatform.login_settings import ldap_settings

HAS_LDAP = importlib.util.find_spec("ldap") is not None and importlib.util.find_spec("django_auth_ldap") is not None


def test_ldap_is_off_without_a_uri(monkeypatch):
    monkeypatch.delenv("EDGE_LDAP_URI", raising=False)
    assert ldap_settings(environ.Env()) == {"EDGE_LDAP_URI": ""}


@pytest.mark.skipif(HAS_LDAP, reason="python-ldap is installed")
def test_a_uri_without_python_ldap_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("EDGE_LDAP_URI", "ldap://127.0.0.1:3389")
    with pytest.raises(ImproperlyConfigured, match="make setup-ldap"):
        ldap_settings(environ.Env())


@pytest.mark.skipif(not HAS_LDAP, reason="python-ldap is not installed (make setup-ldap)")
def test_a_uri_configures_search_and_group_mirroring(monkeypatch):
    monkeypatch.setenv("EDGE_LDAP_URI", "ldap://127.0.0.1:3389")
    monkeypatch.setenv("EDGE_LDAP_USER_BASE", "ou=people,dc=edge,dc=test")
    monkeypatch.setenv("EDGE_LDAP_GROUP_BASE", "ou=groups,dc=edge,dc=test")
    out = ldap_settings(environ.Env())
    assert out["AUTH_LDAP_SERVER_URI"] == "ldap://127.0.0.1:3389"
    assert out["AUTH_LDAP_USER_SEARCH"].base_dn == "ou=people,dc=edge,dc=test"
    assert out["AUTH_LDAP_GROUP_SEARCH"].base_dn == "ou=groups,dc=edge,dc=test"
    assert out["EDGE_LDAP_MIRROR_GROUPS"] is True
    from iam.ldap import EdgeLDAPBackend  # importable once python-ldap is

    assert EdgeLDAPBackend.__mro__[1].__name__ == "LDAPBackend"


@pytest.mark.skipif(not HAS_LDAP, reason="python-ldap is not installed (make setup-ldap)")
def test_a_uri_needs_a_user_base(monkeypatch):
    monkeypatch.setenv("EDGE_LDAP_URI", "ldap://127.0.0.1:3389")
    monkeypatch.delenv("EDGE_LDAP_USER_BASE", raising=False)
    with pytest.raises(ImproperlyConfigured, match="EDGE_LDAP_USER_BASE"):
        ldap_settings(environ.Env())
