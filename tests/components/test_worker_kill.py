"""A worker killed with SIGKILL in the middle of an install (its Helm process with it) costs the lease's term,
never a duplicate release: GIVEN a second platform process reconciling a component whose install hangs on the
API server, WHEN that process group is killed, THEN another worker finds the component held until the lease
expires, and then repairs the abandoned ``pending-install`` release and installs it once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection

from components.controller import CONTROLLER
from edgeplatform.controllers import clock, leases
from edgeplatform.controllers.engine import lease_key
from tests.components.conftest import release_secrets, run
from tests.factories.components import component
from tests.iam.test_cache_invalidation import database_url
from tests.paths import ROOT

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WORKER = """
import sys
import django
django.setup()
from components.controller import CONTROLLER
from edgeplatform.controllers.engine import reconcile
reconcile(CONTROLLER, sys.argv[1], owner="killed-worker")
"""


def _pending(emulator) -> bool:
    secret = emulator.object("secrets", "sh.helm.release.v1.agent.v1", "edge-system")
    return bool(secret) and secret["metadata"]["labels"].get("status") == "pending-install"


def test_a_worker_killed_mid_install_costs_time_not_a_duplicate_release(site, helm_home, tmp_path, monkeypatch):
    from django.conf import settings

    comp = component(site.cluster, "agent", {"chart": {"name": "component"}, "version": "1.0.0"})
    # the release's first object hangs, then is refused: the install is stuck after Helm stored pending-install
    site.kube.delay_next(1, 5, method="PATCH", path_contains="agent-settings", status=503)
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "edgeplatform.settings", "EDGE_HELM_HOME": str(helm_home),
           "EDGE_CHARTS_DIR": settings.STORAGES["charts"]["OPTIONS"]["location"], "EDGE_HELM_TIMEOUT": "20",
           "CELERY_BROKER_URL": "memory://"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(comp.pk)], cwd=ROOT, env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _pending(site.kube) and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
        assert _pending(site.kube), "the worker never reached the install"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and the Helm process it spawned
        worker.wait(timeout=10)
    # THEN the component is held by the dead worker: busy, nothing done twice
    assert leases.holder(lease_key(CONTROLLER, comp.pk)) == "killed-worker"
    assert run(comp).result == "busy"
    # WHEN the lease's term (and Helm's timeout) has passed THEN the next run repairs and installs once
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + timedelta(seconds=301))
    outcome = run(comp)
    assert outcome.result == "success", comp.status
    assert comp.status["phase"] == "Ready" and comp.status["releaseVersion"] == 1
    assert release_secrets(site.kube) == ["sh.helm.release.v1.agent.v1"]
    assert site.kube.object("secrets", "sh.helm.release.v1.agent.v1", "edge-system")["metadata"]["labels"][
        "status"] == "deployed"
