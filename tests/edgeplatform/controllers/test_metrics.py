"""Controller metrics with several processes: each worker process counts, ``/metrics`` adds them up.

GIVEN ``EDGE_METRICS_DIR`` set, WHEN two separate processes each count reconciles and a third answers
``/metrics``, THEN the third shows the sum of both, as a Prometheus scrape of any one process would.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.paths import ROOT

pytestmark = pytest.mark.multiprocess

COUNT = """
import django
django.setup()
from edgeplatform.controllers import metrics
for _ in range({n}):
    metrics.observe("rbac-sync", "success", 0.2)
metrics.observe("rbac-sync", "retry", 3.0)
"""
SCRAPE = """
import django
django.setup()
from django.test import RequestFactory
from django.urls import resolve
response = resolve("/metrics").func(RequestFactory().get("/metrics"))
print(response.content.decode())
"""


def run(code: str, metrics_dir) -> str:
    env = {**os.environ, "EDGE_METRICS_DIR": str(metrics_dir), "DJANGO_SETTINGS_MODULE": "edgeplatform.settings"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def sample(page: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in page.splitlines() if line.startswith(name + "{")
               or line.startswith(name + " "))


def test_metrics_of_two_worker_processes_add_up(tmp_path):
    run(COUNT.format(n=2), tmp_path)
    run(COUNT.format(n=3), tmp_path)
    page = run(SCRAPE, tmp_path)
    assert sample(page, 'controller_reconcile_total{controller="rbac-sync",result="success"}') == 5
    assert sample(page, 'controller_reconcile_total{controller="rbac-sync",result="retry"}') == 2
    assert sample(page, 'controller_reconcile_duration_seconds_count{controller="rbac-sync"}') == 7
    assert sample(page, 'controller_reconcile_duration_seconds_sum{controller="rbac-sync"}') == pytest.approx(7.0)
    # the figures the scraped process reads from its own state when scraped are there too
    assert "edge_permission_cache_total{" in page
