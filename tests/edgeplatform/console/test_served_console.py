"""The console as ``make run`` serves it: production mode (DEBUG off), embedded defaults, every stylesheet, script
and icon served by the platform itself.

pytest's live server serves static files on its own, so the other browser tests cannot see a console that
``make run`` would serve unstyled; this one starts ``make run`` itself, in a fresh var/ folder, on a free port.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.edgeplatform.console.test_console_browser import CHROMIUM, SHOTS, chromium_page
from tests.paths import ROOT

PASSWORD = "served-console-Pa55"
pytestmark = pytest.mark.multiprocess


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``make run`` on embedded defaults (SQLite, filesystem broker, in-process cache) with DEBUG off."""
    var = tmp_path_factory.mktemp("var")
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EDGE_CACHE_PREFIX", "DEBUG",
                        "DJANGO_SETTINGS_MODULE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(EDGE_VAR_DIR=str(var), EDGE_PORT=str(port), EDGE_ADMIN_PASSWORD=PASSWORD, EDGE_KUBECONFIG="",
               EDGE_KUBE_IN_CLUSTER="false")
    log = (var / "make-run.log").open("w")
    proc = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while not _answers(f"{base}/healthz"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make run did not start: {(var / 'make-run.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _assets(html: str) -> list[str]:
    return re.findall(r'<(?:link[^>]+href|script[^>]+src)="(/static/[^"]+)"', html)


def test_make_run_serves_every_asset_the_console_references(served):
    with urllib.request.urlopen(f"{served}/console/login/", timeout=10) as response:
        html = response.read().decode()
    assets = _assets(html)
    assert any(a.endswith("console/console.css") for a in assets) and any(a.endswith("base.css") for a in assets)
    for asset in assets:
        with urllib.request.urlopen(served + asset, timeout=10) as response:
            assert response.status == 200, asset
            kind = "text/css" if asset.endswith(".css") else "javascript"
            assert kind in response.headers["Content-Type"], (asset, response.headers["Content-Type"])


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_the_console_make_run_serves_is_styled_in_a_browser(served):
    failed: list[str] = []
    with chromium_page(timeout_ms=15_000) as page:
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(f"{served}/console/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{served}/console/")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SHOTS / "served-console-dashboard.png"), full_page=True)
        # the admin stylesheet gives the header its colour band; unstyled, it is transparent
        header = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
        assert header not in ("rgba(0, 0, 0, 0)", "transparent"), header
        sheets = page.evaluate("Array.from(document.styleSheets).filter(s => s.cssRules.length).length")
        assert sheets >= 3
    assert failed == []
