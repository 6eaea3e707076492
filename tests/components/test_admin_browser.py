"""Browser test of the components console: the progress panel follows a component to Ready by polling its
status endpoint, with no reload (headless Chromium through Playwright, as the console's own browser tests)."""
from __future__ import annotations

import pytest

from tests.edgeplatform.console.test_console_browser import chromium_page, log_in, report_status, shot

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def fleet(live_server):
    """c1 with a component "web" not reconciled yet; the admin "root" (built before the browser starts)."""
    from tests.factories import ComponentFactory
    from tests.support import Platform

    fleet = Platform()
    fleet.cluster("c1")
    fleet.user("root", superuser=True)
    return {"web": ComponentFactory(name="web", cluster="c1", spec={"version": "1.0.0"}).pk}


def _report(pk: int, status: dict) -> None:
    """The controller reports a step (in a thread of its own: the browser's event loop holds this one)."""
    from components.models import Component

    report_status(Component, pk, status)


def test_the_progress_panel_follows_the_component_to_ready(live_server, fleet):
    with chromium_page() as page:
        base, pk = live_server.url, fleet["web"]
        log_in(page, base, "root")
        page.goto(f"{base}/console/components/component/{pk}/change/")
        panel = page.locator("#component-progress")
        assert panel.locator("[data-field=phase]").inner_text() == "Pending"
        shot(page, "components-01-pending")
        _report(pk, {"phase": "Installing", "step": "ensure_release", "message": "installing web 1.0.0",
                     "observedGeneration": 1})
        page.wait_for_function("document.querySelector('#component-progress [data-field=step]').textContent"
                               " === 'ensure_release'", timeout=8000)
        _report(pk, {"phase": "Ready", "message": "release web revision 1 deployed"})
        page.wait_for_function("document.querySelector('#component-progress').dataset.terminal === 'true'",
                               timeout=8000)
        assert panel.locator("[data-field=phase]").inner_text() == "Ready"
        assert panel.locator("[data-field=message]").inner_text() == "release web revision 1 deployed"
        shot(page, "components-02-ready")
