"""A worker killed (SIGKILL) in the middle of a virtual cluster's first step costs the lease's term, never a second
install: GIVEN a second platform process provisioning a virtual cluster whose host namespace write hangs, WHEN
that process is killed, THEN another worker finds the cluster held until the lease expires, and then resumes at
``ensure_vcluster`` and installs the release once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction

from clusters.controller import CONTROLLER
from clusters.models import Cluster
from edgeplatform.controllers import clock, engine, leases
from edgeplatform.controllers.engine import lease_key
from tests.clusters.test_vcluster import VERSIONS, releases, stand  # noqa: F401  (fixture)
from tests.components.conftest import helm_home  # noqa: F401  (fixture)
from tests.iam.test_cache_invalidation import database_url
from tests.paths import ROOT

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WORKER = """
import sys
import django
django.setup()
from clusters.controller import CONTROLLER
from edgeplatform.controllers.engine import reconcile
reconcile(CONTROLLER, sys.argv[1], owner="killed-worker")
"""


def test_a_worker_killed_mid_step_resumes_there_without_a_second_install(stand, helm_home, monkeypatch):  # noqa: F811
    from django.conf import settings

    from tests.support import Platform

    with transaction.atomic():  # written; its reconcile message lost (the worker below picks it up)
        Platform().apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                          "metadata": {"name": "killed"}, "spec": {"type": "virtual"}})
        transaction.get_connection().run_on_commit.clear()
    row = Cluster.objects.get(name="killed")
    stand.kube.delay_next(1, 20, method="PATCH", path_contains="/namespaces/vcluster-killed")
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "edgeplatform.settings", "EDGE_HELM_HOME": str(helm_home),
           "EDGE_CHARTS_DIR": settings.STORAGES["charts"]["OPTIONS"]["location"],
           "EDGE_KUBECONFIG": str(stand.kube.kubeconfig_path), "EDGE_VCLUSTER_SERVER": stand.virtual.url,
           "EDGE_VCLUSTER_CHART_VERSIONS": json.dumps(VERSIONS), "CELERY_BROKER_URL": "memory://",
           "EDGE_KUBE_READ_TIMEOUT": "60"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(row.pk)], cwd=ROOT, env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while leases.holder(lease_key(CONTROLLER, row.pk)) != "killed-worker" and time.monotonic() < deadline \
                and worker.poll() is None:
            time.sleep(0.1)
        assert leases.holder(lease_key(CONTROLLER, row.pk)) == "killed-worker", "the worker never started"
        time.sleep(1.0)  # inside ensure_vcluster, waiting on the host
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    # THEN the cluster is held by the dead worker: busy, nothing done twice
    assert engine.reconcile(CONTROLLER, row.pk).result == "busy"
    # WHEN the lease's term has passed THEN the next runs resume at ensure_vcluster and install once
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + timedelta(seconds=settings.EDGE_CONTROLLER_LEASE_SECONDS + 1))
    for _ in range(3):
        if engine.reconcile(CONTROLLER, row.pk).result == "success":
            break
    row.refresh_from_db()
    assert row.ready, row.status
    assert releases(stand.kube, "vcluster-killed") == ["sh.helm.release.v1.killed.v1"]
