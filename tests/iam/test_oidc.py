"""OpenID Connect login end to end, against a real provider double on 127.0.0.1 (tests/oidc_provider.py).

OIDC is switched on the way an operator does it — environment variables read by the settings code — and
the browser's trip is driven with the Django test client: /oidc/authenticate/ → provider /authorize →
/oidc/callback/.
"""
import importlib
from urllib.parse import urlparse

import environ
import pytest
import requests
from django.test import Client
from django.urls import clear_url_caches

from edgeplatform.login_settings import oidc_settings
from iam.models import User, UserGroup
from tests.oidc_provider import OIDCProvider

WORKSPACES = "/oapis/scope.theriseunion.io/v1alpha1/workspaces"


def _reload_urls():
    import edgeplatform.urls

    importlib.reload(edgeplatform.urls)
    clear_url_caches()


@pytest.fixture
def provider(settings, monkeypatch):
    """A running provider, and the platform configured for it by environment variables alone."""
    with OIDCProvider("edge-console", "s3cret-of-the-console") as op:
        monkeypatch.setenv("EDGE_OIDC_ISSUER", op.issuer)
        monkeypatch.setenv("OIDC_RP_CLIENT_ID", "edge-console")
        monkeypatch.setenv("OIDC_RP_CLIENT_SECRET", "s3cret-of-the-console")
        computed = oidc_settings(environ.Env())
        assert computed["OIDC_ENABLED"] and computed["OIDC_OP_TOKEN_ENDPOINT"] == f"{op.issuer}/token"
        for name, value in computed.items():
            setattr(settings, name, value)
        settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "iam.oidc.EdgeOIDCBackend"]
        settings.LOGIN_REDIRECT_URL = "/after-login/"
        _reload_urls()
        yield op
    settings.OIDC_ENABLED = False
    _reload_urls()


def oidc_login(client: Client, op: OIDCProvider, claims: dict):
    """Walk the browser's path through the provider; the callback's response."""
    op.claims = claims
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302 and start["Location"].startswith(f"{op.issuer}/authorize?")
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302
    back = urlparse(at_provider.headers["Location"])
    assert back.path == "/oidc/callback/"
    return client.get(f"{back.path}?{back.query}")


def test_oidc_login_maps_claims_to_a_user_and_groups_that_carry_bindings(platform, provider):
    platform.cluster("c1")
    platform.workspace("w1", "c1")
    platform.workspace("w2", "c1")
    platform.bind("ops-view-w1", "workspace-viewer", "workspace", "w1", groups=("edge-ops",))
    browser = Client()

    done = oidc_login(browser, provider, {"sub": "u-1", "preferred_username": "Ann.Lee", "email": "ann@corp.test",
                                          "name": "Ann Lee", "groups": ["edge-ops", "Readers"]})

    assert done.status_code == 302 and done["Location"] == "/after-login/"
    assert {"/.well-known/openid-configuration", "/authorize", "/token", "/jwks", "/userinfo"} <= set(
        provider.requests)
    ann = User.objects.get(name="ann.lee")
    assert ann.email == "ann@corp.test" and ann.spec["displayName"] == "Ann Lee"
    assert sorted(ann.groups.values_list("name", flat=True)) == ["edge-ops", "readers"]
    assert UserGroup.objects.filter(name="readers").exists()  # created from the claim
    assert browser.get(f"{WORKSPACES}/w1").status_code == 200  # the session is logged in; the group binding applies
    assert browser.get(f"{WORKSPACES}/w2").status_code in (403, 404)


def test_group_membership_follows_the_claims_at_every_login(platform, provider):
    platform.cluster("c1")
    platform.workspace("w1", "c1")
    platform.bind("ops-view-w1", "workspace-viewer", "workspace", "w1", groups=("edge-ops",))
    oidc_login(Client(), provider, {"sub": "u-2", "preferred_username": "bob", "email": "bob@corp.test",
                                    "groups": ["edge-ops"]})
    browser = Client()

    oidc_login(browser, provider, {"sub": "u-2", "preferred_username": "bob", "email": "bob@corp.test",
                                   "groups": ["auditors"]})

    assert list(User.objects.get(name="bob").groups.values_list("name", flat=True)) == ["auditors"]
    assert browser.get(f"{WORKSPACES}/w1").status_code in (403, 404)  # the group binding no longer applies


def test_a_local_user_is_not_taken_over_and_disabled_users_stay_out(platform, provider):
    platform.user("carl")
    browser = Client()
    refused = oidc_login(browser, provider, {"sub": "u-3", "preferred_username": "carl", "email": "c@corp.test"})
    assert refused.status_code == 302 and refused["Location"] != "/after-login/"
    assert "_auth_user_id" not in browser.session

    oidc_login(Client(), provider, {"sub": "u-4", "preferred_username": "dora", "email": "d@corp.test"})
    User.objects.filter(name="dora").update(is_active=False)
    browser = Client()
    again = oidc_login(browser, provider, {"sub": "u-4", "preferred_username": "dora", "email": "d@corp.test"})
    assert again["Location"] != "/after-login/"
    assert browser.get("/oapis/iam.theriseunion.io/v1alpha1/users/dora").status_code in (401, 403)


def test_a_forged_id_token_is_refused(platform, provider):
    """An ID token signed with another key (the provider rotated to a key the platform never saw) fails."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    provider.key, old_jwks = rsa.generate_private_key(public_exponent=65537, key_size=2048), provider.jwks()
    provider.jwks = lambda: old_jwks  # the published key no longer matches the signing key
    browser = Client()
    done = oidc_login(browser, provider, {"sub": "u-5", "preferred_username": "eve", "email": "e@corp.test"})
    assert done.status_code == 400  # Django's answer to the library's SuspiciousOperation
    assert "_auth_user_id" not in browser.session
    assert not User.objects.filter(name="eve").exists()


def _mark() -> int:
    from iam.audit.models import AuditEvent

    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _since(start: int):
    from iam.audit.models import AuditEvent

    return list(AuditEvent.objects.filter(id__gt=start).order_by("id"))


def test_oidc_logins_write_users_and_groups_through_the_write_path_one_event_each(platform, provider):
    """GIVEN no user WHEN fay first logs in THEN each new group and the new user is one event as system:oidc
    (never anonymous), in the login's request; WHEN she logs in with the same claims THEN nothing is written;
    WHEN her groups changed THEN one update shows the membership change."""
    platform.user("someone", groups=("edge-ops",))  # edge-ops exists already
    claims = {"sub": "u-6", "preferred_username": "fay", "email": "fay@corp.test", "name": "Fay",
              "groups": ["edge-ops", "Readers"]}
    start = _mark()

    oidc_login(Client(), provider, claims)

    events = _since(start)
    assert [(e.actor, e.verb, e.kind, e.name) for e in events] == [
        ("system:oidc", "create", "Group", "readers"), ("system:oidc", "create", "User", "fay"),
        ("fay", "login", "User", "fay")]
    created = events[1]
    assert created.after["spec"]["groups"] == ["edge-ops", "readers"]
    assert (created.after["spec"]["email"], created.after["spec"]["displayName"]) == ("fay@corp.test", "Fay")
    assert created.after["metadata"]["labels"]["iam.theriseunion.io/identity-provider"] == "oidc"
    assert len({e.request_id for e in events}) == 1  # the callback's request

    start = _mark()
    oidc_login(Client(), provider, claims)
    assert [(e.verb, e.kind) for e in _since(start)] == [("login", "User")]

    start = _mark()
    oidc_login(Client(), provider, {**claims, "groups": ["Readers", "auditors"]})
    events = _since(start)
    assert [(e.actor, e.verb, e.kind, e.name) for e in events] == [
        ("system:oidc", "create", "Group", "auditors"), ("system:oidc", "update", "User", "fay"),
        ("fay", "login", "User", "fay")]
    assert (events[1].before["spec"]["groups"], events[1].after["spec"]["groups"]) == (
        ["edge-ops", "readers"], ["auditors", "readers"])
    assert sorted(User.objects.get(name="fay").groups.values_list("name", flat=True)) == ["auditors", "readers"]


def test_an_oidc_name_the_platform_refuses_is_a_failed_login_that_writes_nothing(platform, provider):
    start = _mark()
    browser = Client()
    refused = oidc_login(browser, provider, {"sub": "u-7", "preferred_username": "System", "groups": ["ops"]})
    assert refused.status_code == 302 and refused["Location"] != "/after-login/"
    assert "_auth_user_id" not in browser.session
    assert not User.objects.filter(name="system").exists() and not UserGroup.objects.filter(name="ops").exists()
    assert [e.verb for e in _since(start) if e.result == "allowed"] == []
