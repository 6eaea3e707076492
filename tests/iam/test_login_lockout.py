"""Brute-force lockout on the session login and on ``POST /oauth/token`` (iam/lockout.py, django-axes)."""
import time

import pytest
from django.test import Client

from iam import lockout
from tests.support import PASSWORD

LOCKOUTS = "/oapis/iam.theriseunion.io/v1alpha1/lockouts"
SESSION_LOGIN = "/api-auth/login/"  # Django's LoginView, as the console's login page


def token(name, password, client=None, ip="127.0.0.1"):
    return (client or Client()).post("/oauth/token", {"grant_type": "password", "username": name,
                                                      "password": password}, REMOTE_ADDR=ip)


def session_login(name, password, client=None):
    return (client or Client()).post(SESSION_LOGIN, {"username": name, "password": password})


def fail(name, times, ip="127.0.0.1"):
    return [token(name, "wrong-password", ip=ip).status_code for _ in range(times)]


@pytest.fixture
def events():
    """What an audit log listening to the lockout hooks would record."""
    seen = []

    def on_locked(sender, **kw):
        seen.append(("locked", kw["username"], kw["failures"]))

    def on_unlocked(sender, **kw):
        seen.append(("unlocked", kw["username"], kw["actor"].name if kw["actor"] else None))

    lockout.account_locked.connect(on_locked)
    lockout.account_unlocked.connect(on_unlocked)
    yield seen
    lockout.account_locked.disconnect(on_locked)
    lockout.account_unlocked.disconnect(on_unlocked)


def test_token_endpoint_locks_after_five_failures_and_refuses_the_right_password(platform, events):
    platform.user("ann")
    platform.user("bob")

    assert fail("ann", 4) == [400] * 4
    fifth = token("ann", "wrong-password")
    locked = token("ann", PASSWORD)

    assert fifth.status_code == 429
    assert locked.status_code == 429 and locked.json()["error"] == "invalid_grant"
    assert "locked" in locked.json()["error_description"] and 0 < int(locked["Retry-After"]) <= 30 * 60
    assert "access_token" not in locked.json()
    assert token("bob", PASSWORD).status_code == 200  # only the attacked name is locked
    assert token("ann", PASSWORD, ip="10.9.8.7").status_code == 429  # and from every address
    assert events == [("locked", "ann", 5)]  # announced once, not on every refused try


def test_the_session_login_is_locked_too_and_shares_the_count(platform):
    platform.user("ann")
    fail("ann", 3)
    for _ in range(2):
        assert session_login("ann", "wrong-password").status_code in (200, 429)  # the form again, then locked

    browser = Client()
    refused = session_login("ann", PASSWORD, browser)

    assert refused.status_code == 429 and b"locked" in refused.content
    assert "_auth_user_id" not in browser.session
    assert token("ann", PASSWORD).status_code == 429


@pytest.mark.parametrize("path", ["/console/login/", SESSION_LOGIN])
def test_a_locked_user_is_refused_on_every_login_page(platform, path):
    platform.user("ann")
    fail("ann", 5)
    browser = Client()

    refused = browser.post(path, {"username": "ann", "password": PASSWORD})

    assert refused.status_code == 429 and b"locked" in refused.content and refused["Retry-After"]
    assert "_auth_user_id" not in browser.session


def test_admins_see_and_lift_locks_and_the_user_gets_back_in(platform, api, events):
    admin = platform.user("root", superuser=True)
    platform.user("ann")
    fail("ann", 5)
    as_admin = api(admin)

    listed = as_admin.get(LOCKOUTS)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["kind"] == "Lockout" and item["metadata"]["name"] == "ann"
    assert item["status"]["failures"] == 5 and item["status"]["addresses"] == ["127.0.0.1"]
    assert item["status"]["lockedUntil"]
    assert as_admin.get(f"{LOCKOUTS}/ann").json()["metadata"]["name"] == "ann"

    lifted = as_admin.delete(f"{LOCKOUTS}/ann")

    assert lifted.status_code == 200 and lifted.json()["status"] == "Success"
    assert token("ann", PASSWORD).status_code == 200
    assert session_login("ann", PASSWORD).status_code == 302
    assert as_admin.get(LOCKOUTS).json()["items"] == []
    assert as_admin.delete(f"{LOCKOUTS}/ann").status_code == 404
    assert events == [("locked", "ann", 5), ("unlocked", "ann", "root")]


def test_only_user_admins_may_see_or_lift_locks(platform, api):
    viewer = platform.user("vic")
    platform.bind("vic-view", "platform-regular", "platform", users=("vic",))
    platform.user("ann")
    fail("ann", 5)
    as_viewer = api(viewer)

    assert as_viewer.delete(f"{LOCKOUTS}/ann").status_code == 403
    assert api(None).get(LOCKOUTS).status_code == 401
    assert token("ann", PASSWORD).status_code == 429


def test_console_service_unlock(platform):
    admin = platform.user("root", superuser=True)
    platform.user("ann")
    fail("ann", 5)
    assert lockout.is_locked("ann")

    assert lockout.unlock("ann", actor=admin) is True

    assert not lockout.is_locked("ann") and token("ann", PASSWORD).status_code == 200


def test_failures_spread_wider_than_the_window_do_not_lock(platform, settings):
    settings.EDGE_LOCKOUT_WINDOW = 1
    platform.user("ann")
    fail("ann", 4)
    time.sleep(1.2)

    assert fail("ann", 1) == [400]  # the count started over
    assert token("ann", PASSWORD).status_code == 200


def test_a_lock_ends_after_the_duration(platform, settings):
    settings.EDGE_LOCKOUT_FAILURES = 3
    settings.EDGE_LOCKOUT_DURATION = 2
    platform.user("ann")
    assert fail("ann", 3) == [400, 400, 429]
    assert token("ann", PASSWORD).status_code == 429
    time.sleep(2.2)

    assert token("ann", PASSWORD).status_code == 200


def test_a_successful_login_resets_the_count(platform):
    platform.user("ann")
    fail("ann", 4)
    assert token("ann", PASSWORD).status_code == 200

    assert fail("ann", 4) == [400] * 4  # four more failures do not lock
    assert token("ann", PASSWORD).status_code == 200
