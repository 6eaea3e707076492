"""Browser tests: headless Chromium drives the console through login → create a workspace → bind a user →
log in as that user and see only what they may.

Runs the system Chromium (``/usr/bin/chromium``, installed by ``make setup``/``make test`` on Debian) through
Playwright against pytest-django's live server on 127.0.0.1; skipped when either is missing. Screenshots of
every step go to ``test-output/screenshots/``.
"""
from __future__ import annotations

import os
import shutil
import threading
from contextlib import contextmanager

import pytest

from tests.paths import TEST_OUTPUT
from tests.support import PASSWORD

CHROMIUM = os.environ.get("EDGE_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = TEST_OUTPUT / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
    # the live server sees only committed rows; restore the built-in roles the flush removes
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def fleet(live_server):
    """c1 with a workspace "other", the admin "root" and "dana", who has no bindings yet.

    Built before the browser starts: Playwright's sync API runs an event loop in this thread, and
    Django keeps database connections per thread *or* per event loop, so ORM calls made while it runs
    would open a second connection that outlives the test.
    """
    from tests.support import Platform

    fleet = Platform()
    fleet.cluster("c1")
    fleet.workspace("other", "c1")
    fleet.user("root", superuser=True)
    fleet.user("dana")
    return fleet


@contextmanager
def chromium_page(timeout_ms: int = 10_000):
    """A fresh headless Chromium page (the system browser, never a downloaded one); skips when it cannot start."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox", "--disable-dev-shm-usage"])
        except Exception as exc:  # a Chromium that cannot start here is a missing tool, not a failure
            pytest.skip(f"Chromium could not be started: {exc}")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()


@pytest.fixture
def browser_page(fleet):
    """A Chromium page for a test of the console on the fleet."""
    with chromium_page() as page:
        yield page


def shot(page, name: str) -> None:
    """Save a full-page screenshot of the current step."""
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page, base: str, name: str) -> None:
    """Log in through the console's login form."""
    page.goto(f"{base}/console/login/")
    page.fill("#id_username", name)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/console/")


def in_own_thread(work) -> None:
    """Run ``work`` to the end in a thread of its own (the browser's event loop holds this one), closing that
    thread's database connection afterwards."""
    def run():
        from django.db import connection

        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def report_status(model, pk: int, status: dict) -> None:
    """The controller reports progress: ``status`` merged into the object's status (in a thread of its own)."""
    def write():
        from edgeplatform.resources.services import save_status

        save_status(model.objects.get(pk=pk), lambda current: {**current, **status},
                    notable=lambda before, after: True)

    in_own_thread(write)


def log_out(page, base: str) -> None:
    """Log out with the user menu's button."""
    page.click("#logout-form button")
    page.goto(f"{base}/console/")
    page.wait_for_url(f"{base}/console/login/**")


def test_admin_creates_a_workspace_binds_a_user_who_then_sees_only_it(live_server, fleet, browser_page):
    page, base = browser_page, live_server.url

    # GIVEN the admin logs in
    log_in(page, base, "root")
    shot(page, "01-admin-dashboard")
    assert page.locator("#tile-workspaces .console-tile-count").inner_text() == "1"

    # WHEN they create a workspace with the form
    page.goto(f"{base}/console/clusters/workspace/add/")
    page.fill("#id_name", "team-a")
    page.select_option("#id_cluster", "c1")
    page.fill("#id_display_name", "Team A")
    shot(page, "02-admin-add-workspace")
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/console/clusters/workspace/")
    assert page.locator("th.field-name a", has_text="team-a").count() == 1
    shot(page, "03-admin-workspaces")

    # AND bind dana as workspace-viewer, picking the scope Platform → c1 → team-a
    page.goto(f"{base}/console/iam/iamrolebinding/add/")
    page.fill("#id_name", "dana-team-a")
    page.select_option("#id_role", "workspace-viewer")
    page.select_option("#id_scope-level-0", "clusters/c1")
    page.select_option("#id_scope-level-1", "clusters/c1/workspaces/team-a")
    assert page.input_value("#id_scope") == "clusters/c1/workspaces/team-a"
    page.fill("#id_users", "dana")
    shot(page, "04-admin-bind-user")
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/console/iam/iamrolebinding/")
    assert page.locator("th.field-name a", has_text="dana-team-a").count() == 1
    shot(page, "05-admin-bindings")
    log_out(page, base)
    shot(page, "06-logged-out")

    # THEN dana logs in and sees that workspace only, with no IAM pages and no buttons she cannot use
    log_in(page, base, "dana")
    shot(page, "07-dana-dashboard")
    assert page.locator("#tile-workspaces .console-tile-count").inner_text() == "1"
    assert page.locator('a[href="/console/iam/user/"]').count() == 0
    assert page.locator('a[href="/console/clusters/cluster/"]').count() == 0
    page.goto(f"{base}/console/clusters/workspace/")
    names = page.locator("th.field-name a").all_inner_texts()
    assert names == ["team-a"]
    assert page.locator("a.addlink").count() == 0 and page.locator("select[name=action]").count() == 0
    shot(page, "08-dana-workspaces")
    response = page.goto(f"{base}/console/iam/user/")
    assert response.status == 403
    shot(page, "09-dana-users-forbidden")

    # AND her own trail — the refused visit just now among it — is hers to read, no one else's
    page.goto(f"{base}/console/")
    page.click("#user-link-my_activity")
    page.wait_for_url(f"{base}/console/my-activity/")
    actors = set(page.locator("tr.audit-event td:nth-child(3)").all_inner_texts())
    assert actors == {"dana"}
    assert page.locator("tr.audit-event", has_text="denied").count() >= 1
    shot(page, "10-dana-my-activity")

