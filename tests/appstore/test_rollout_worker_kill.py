"""A worker killed with SIGKILL in the middle of a rollout costs the lease's term, never a duplicate workload or a
write done twice: GIVEN a second platform process rolling a deployment out to two clusters, the first of which it
finished and recorded while the second's API server holds its apply, WHEN that process is killed, THEN another
worker finds the deployment held until the lease expires, and then rolls only the unfinished cluster, once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings

from appstore.controller import CONTROLLER
from appstore.models import DeploymentTopology
from edgeplatform.controllers import clock, leases
from edgeplatform.controllers.engine import lease_key
from tests.appstore.rollout_support import FAST, application, deployment, run, settle, site, version, workloads
from tests.iam.test_cache_invalidation import database_url
from tests.paths import ROOT

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WORKER = """
import sys
import django
django.setup()
from appstore.controller import CONTROLLER
from edgeplatform.controllers.engine import reconcile
reconcile(CONTROLLER, sys.argv[1], owner="killed-worker")
"""


def _recorded(row, cluster: str) -> bool:
    states = DeploymentTopology.objects.filter(deployment=row, cluster=cluster)
    return states.exists() and all(state.applied_hash for state in states)


def test_a_worker_killed_mid_rollout_costs_time_not_a_duplicate(kube_clusters, platform, monkeypatch):
    north, south = kube_clusters(2)
    with override_settings(**FAST):
        site(platform, "north", north, ["shop-1", "shop-2"])
        site(platform, "south", south, ["shop-3"])
        application(platform)
        version(platform, "pos", "1.0.0")
        row = deployment(platform, "pos", "pos", [{"nodeGroup": "shop-1"}, {"nodeGroup": "shop-2"},
                                                  {"nodeGroup": "shop-3"}])
    # south's API server holds the worker's apply (then refuses it): the worker is mid-rollout there
    south.delay_next(1, 20, method="PATCH", path_contains="/deployments/", status=503)
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "edgeplatform.settings", "CELERY_BROKER_URL": "memory://",
           "EDGE_KUBE_RETRIES": "0", "EDGE_KUBE_READ_TIMEOUT": "30", "EDGE_APPSTORE_CLUSTER_TIMEOUT": "30"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(row.pk)], cwd=ROOT, env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _recorded(row, "north") and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
        assert _recorded(row, "north"), "the worker never finished north"
        assert worker.poll() is None, "the worker finished before it could be killed"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    assert sorted(workloads(north)) == ["pos-web-shop-1", "pos-web-shop-2"] and workloads(south) == {}
    # THEN the deployment is held by the dead worker: busy, and no cluster is asked anything
    north.requests.clear()
    south.requests.clear()
    assert leases.holder(lease_key(CONTROLLER, row.pk)) == "killed-worker"
    assert run(row).result == "busy"
    assert len(north.requests) == 0 and len(south.requests) == 0
    # WHEN the lease's term has passed THEN the next runs roll south only, once
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + timedelta(seconds=301))
    with override_settings(**FAST):
        for _ in range(10):
            run(row)
            if row.phase == "Running":
                break
            settle(north, south)
    assert row.phase == "Running", row.status
    north_writes = [w for w in north.requests.writes() if 200 <= w.status < 300]
    south_applies = [w.path for w in south.requests.writes() if 200 <= w.status < 300 and "/deployments/" in w.path]
    assert north_writes == []  # recorded by the killed worker: not written again
    assert south_applies == ["/apis/apps/v1/namespaces/shop/deployments/pos-web-shop-3"]
    assert sorted(workloads(north)) == ["pos-web-shop-1", "pos-web-shop-2"]
    assert sorted(workloads(south)) == ["pos-web-shop-3"]
    assert DeploymentTopology.objects.filter(deployment=row).count() == 3
