"""The Celery side: a task per controller, and the beat task that re-enqueues what is due.

A controller's task receives a key, runs :func:`~edgeplatform.controllers.engine.reconcile` and, when the
attempt asks to be retried soon (``busy``, or a backoff shorter than ``EDGE_CONTROLLER_RETRY_MAX_COUNTDOWN``),
queues itself again with that countdown; the worker slot is free meanwhile. A longer wait is left to beat,
which reads the recorded ``next_retry`` (a broker holding a message for hours is a broker that may lose it).
Tasks are ``acks_late``: a worker killed mid-step leaves the message to be delivered again, and its lease
expires.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from edgeplatform.controllers import base, clock, leases
from edgeplatform.controllers.base import Controller
from edgeplatform.controllers.engine import lease_key, reconcile
from edgeplatform.controllers.models import ControllerState, Lease

__all__ = ["REQUEUE", "controller_of_task", "due", "enqueue", "requeue", "task_for"]

log = logging.getLogger(__name__)

REQUEUE = "edgeplatform.controllers.requeue"
_tasks: dict[str, object] = {}
#: task name → controller
_by_task: dict[str, Controller] = {}


def task_for(controller: Controller, name: str | None = None):
    """Make (once) the Celery task that reconciles one object of ``controller``; ``name`` defaults to
    ``edgeplatform.controllers.<controller>``. The task's keyword arguments reach the steps as ``run.options``."""
    name = name or f"edgeplatform.controllers.{controller.name}"
    if name in _tasks:
        return _tasks[name]

    @shared_task(name=name, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
    def reconcile_task(self, key, **options):
        outcome = reconcile(controller, key, owner=f"{self.request.hostname or 'local'}:{self.request.id}",
                            options=options)
        if outcome.retry_in is not None and not self.request.is_eager \
                and outcome.retry_in <= settings.EDGE_CONTROLLER_RETRY_MAX_COUNTDOWN:
            self.apply_async(args=(key,), kwargs=options, countdown=outcome.retry_in)
        return outcome.value

    reconcile_task.__doc__ = f"Reconcile one object of the {controller.name} controller."
    _tasks[name] = reconcile_task
    _by_task[name] = controller
    _tasks.setdefault(controller.name, reconcile_task)
    return reconcile_task


def controller_of_task(name: str) -> Controller | None:
    """The controller a task of that name reconciles for (None: not a controller's task)."""
    return _by_task.get(name)


def enqueue(controller: Controller, key, **options) -> None:
    """Queue a reconcile of one object (its first task, routed to the controller's queue)."""
    task = _tasks.get(controller.name) or task_for(controller)
    task.apply_async(args=(key,), kwargs=options)


def enqueue_logged(controller: Controller, key, what: str) -> None:
    """Queue a reconcile of one object from a write's after-commit hook: a broker that fails is logged ("could not
    queue the <what> <key>"), not raised (the write is committed; beat queues the object later)."""
    try:
        enqueue(controller, key)
    except Exception:
        log.exception("could not queue the %s %s", what, key)


def enqueue_each(controller: Controller, queryset, what: str) -> None:
    """:func:`enqueue_logged` for each object of ``queryset`` (read when called: after the write's commit)."""
    for key in queryset.values_list("pk", flat=True):
        enqueue_logged(controller, key, what)


def due(controller: Controller) -> list[str]:
    """The keys beat should queue now: never reconciled, generation ahead of the one observed, a retry whose
    time has come, or a last success older than the controller's period. Objects held by a worker (a live
    lease) and objects waiting for a spec change after a permanent error are left alone; the state rows and
    leases of objects that are gone are dropped."""
    now = clock.now()
    states = {row.key: row for row in ControllerState.objects.filter(controller=controller.name)}
    busy = leases.held(f"object:{controller.name}:")
    stale = None if controller.period is None else now - timedelta(seconds=controller.period)
    out, seen = [], set()
    for key, generation in controller.keys():
        key = str(key)
        seen.add(key)
        state = states.get(key)
        if lease_key(controller, key) in busy:
            continue
        if state is None:
            out.append(key)
        elif state.failed_generation is not None and state.failed_generation == generation:
            continue
        elif state.next_retry is not None:
            if state.next_retry <= now:
                out.append(key)
        elif state.observed_generation < generation \
                or (stale is not None and (state.last_success is None or state.last_success <= stale)):
            out.append(key)
    gone = set(states) - seen
    if gone:
        ControllerState.objects.filter(controller=controller.name, key__in=gone).delete()
        Lease.objects.filter(key__in=[lease_key(controller, key) for key in gone], expires__lte=now).delete()
    return out


@shared_task(name=REQUEUE, acks_late=True)
def requeue() -> dict[str, int]:
    """Beat: queue every object that is due (see :func:`due`), for every controller; how many, by controller."""
    counts = {}
    for controller in base.controllers():
        keys = due(controller)
        for key in keys:
            try:
                enqueue(controller, key)
            except Exception:  # the broker is down: the next beat tries again
                log.exception("could not queue %s %s", controller.name, key)
                break
        counts[controller.name] = len(keys)
    return counts
