"""Slow and fast work on separate Celery queues, routed by the settings, with every queue consumed by the worker
that ``make run`` starts."""
from __future__ import annotations

import pytest

from edgeplatform.celery import app
from edgeplatform.controllers.base import Controller
from edgeplatform.controllers.queues import QUEUES
from edgeplatform.controllers.tasks import task_for
from tests.paths import ROOT


def queue_of(name: str) -> str:
    options = app.amqp.router.route({}, name, (), {})
    return options["queue"].name


@pytest.mark.parametrize("task,queue", [
    ("iam.native_rbac.reconcile_cluster", "sync"),
    ("iam.native_rbac.reconcile_binding", "sync"),
    ("edgeplatform.kube.tasks.sync_object", "sync"),
    ("edgeplatform.controllers.crd-resync", "sync"),
    ("iam.audit.tasks.prune", "audit"),
    ("iam.tasks.purge_expired_tokens", "default"),
])
def test_tasks_go_to_their_queues(task, queue):
    assert queue_of(task) == queue


def test_a_controller_task_goes_to_its_controller_queue():
    class Installs(Controller):
        name = "test-installs"
        steps = ("ensure_release",)
        queue = "provision"

    task_for(Installs(), "tests.installs")
    assert queue_of("tests.installs") == "provision"


def test_the_worker_of_the_procfile_consumes_every_queue():
    (worker,) = [line for line in (ROOT / "deploy" / "Procfile").read_text().splitlines() if line.startswith("worker:")]
    assert set(worker.split(" -Q ")[1].split()[0].split(",")) == set(QUEUES) == {
        q.name for q in app.conf.task_queues}
