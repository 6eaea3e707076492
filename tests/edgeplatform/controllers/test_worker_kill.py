"""A worker process killed with SIGKILL in the middle of a step costs the lease's term, never the work.

GIVEN a second platform process reconciling a workspace with a step that hangs, WHEN that process is killed, THEN
another worker finds the object held (busy, nothing done twice) until the lease expires, and then reconciles it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection

from clusters.models import Workspace
from edgeplatform.controllers import clock, leases
from edgeplatform.controllers.base import Controller
from edgeplatform.controllers.engine import lease_key, reconcile
from edgeplatform.controllers.models import ControllerState
from tests.iam.test_cache_invalidation import database_url
from tests.paths import ROOT

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WORKER = """
import sys, time
import django
django.setup()
from clusters.models import Workspace
from edgeplatform.controllers.base import Controller
from edgeplatform.controllers.engine import reconcile

class Hangs(Controller):
    name = "test-killed"
    model = Workspace
    steps = ("ensure_forever",)

    def ensure_forever(self, obj, run):
        print("in-step", flush=True)
        time.sleep(120)

reconcile(Hangs(), sys.argv[1], owner="killed-worker")
"""


class Finishes(Controller):
    name = "test-killed"
    model = Workspace
    steps = ("ensure_done",)

    def ensure_done(self, obj, run):
        run.result = "done"


def test_a_killed_worker_costs_time_not_work(platform, monkeypatch):
    platform.cluster("edge")
    key = platform.workspace("w1", "edge").pk
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "edgeplatform.settings"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(key)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert worker.stdout.readline().strip() == "in-step"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    controller = Finishes()
    assert leases.holder(lease_key(controller, key)) == "killed-worker"
    assert reconcile(controller, key).result == "busy"
    assert ControllerState.objects.get(controller="test-killed", key=str(key)).observed_generation == 0
    # the lease's term later
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + timedelta(seconds=301))
    outcome = reconcile(controller, key)
    assert outcome.result == "success" and outcome.value == "done"
    assert Workspace.objects.get(pk=key).status["observedGeneration"] == 1
