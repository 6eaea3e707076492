"""Running one reconcile: lease, limit, steps, state and status, metrics.

``reconcile(controller, key)`` is what a controller's Celery task calls. It re-reads the object, takes the
object's lease (another worker holding it: ``busy``, retried shortly), takes a slot of the cluster's concurrency
limit (none free: ``busy`` too), and runs the steps as ``system:<controller>``. A retry resumes at the step that
failed while the generation stays the same. The outcome is recorded in the controller's state row and, through
the write path's status write, in the object's status; then counted in the metrics.
"""
from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from edgeplatform import auditing
from edgeplatform.controllers import backoff, clock, leases, limits, metrics, status
from edgeplatform.controllers.base import Controller, Run
from edgeplatform.controllers.errors import PermanentError, TemporaryError
from edgeplatform.controllers.models import ControllerState

__all__ = ["Outcome", "lease_key", "new_owner", "reconcile"]

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """How an attempt ended: ``result`` (the metric label), the steps' ``value``, and ``retry_in`` (seconds
    until the next attempt; None: none is due)."""

    result: str
    value: object = None
    retry_in: float | None = None


def new_owner() -> str:
    """A lease owner name unique to this attempt: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def lease_key(controller: Controller, key) -> str:
    """The key of the lease that makes one worker at a time work on an object."""
    return f"object:{controller.name}:{key}"


def reconcile(controller: Controller, key, *, owner: str | None = None, options: dict | None = None) -> Outcome:
    """Reconcile one object once (see the module docstring); never raises for a step's failure."""
    started = time.perf_counter()
    outcome = _attempt(controller, str(key), owner or new_owner(), options or {})
    metrics.observe(controller.name, outcome.result, time.perf_counter() - started)
    return outcome


def _attempt(controller: Controller, key: str, owner: str, options: dict) -> Outcome:
    seconds = settings.EDGE_CONTROLLER_LEASE_SECONDS
    lease = lease_key(controller, key)
    if not leases.acquire(lease, owner, seconds):
        return Outcome("busy", retry_in=settings.EDGE_CONTROLLER_BUSY_DELAY)
    slot = None
    try:
        obj = controller.load(key)  # read under the lease: what it says holds until the lease is given back
        if obj is None:
            ControllerState.objects.filter(controller=controller.name, key=key).delete()
            return Outcome("gone")
        state = ControllerState.objects.get_or_create(controller=controller.name, key=key)[0]
        if state.failed_generation is not None and state.failed_generation == controller.generation_of(obj):
            return Outcome("skipped")
        cluster = controller.cluster_of(obj) if controller.sort and limits.limit_of(controller.sort) else None
        if cluster:
            slot = limits.acquire(controller.sort, cluster, owner, seconds)
            if slot is None:
                return Outcome("busy", retry_in=settings.EDGE_CONTROLLER_BUSY_DELAY)
        return _run_steps(controller, obj, state, Run(controller, key, owner, options), (lease, slot))
    finally:
        limits.release(slot, owner)
        leases.release(lease, owner)


def _first_step(controller: Controller, state: ControllerState, generation: int) -> int:
    """Where this attempt starts: at the step that failed, while the spec is the one it failed with."""
    if state.retry_count and state.step in controller.steps and state.step_generation == generation:
        return controller.steps.index(state.step)
    return 0


def _run_steps(controller: Controller, obj, state: ControllerState, run: Run, held: tuple) -> Outcome:
    generation = controller.generation_of(obj)
    seconds = settings.EDGE_CONTROLLER_LEASE_SECONDS
    renewed = time.monotonic()
    with auditing.actor(f"system:{controller.name}"):
        for step in controller.steps[_first_step(controller, state, generation):]:
            state.step = step
            try:
                getattr(controller, step)(obj, run)
            except PermanentError as error:
                return _failed(controller, obj, state, generation, error, run)
            except TemporaryError as error:
                return _retry(controller, obj, state, generation, error, error.delay, run)
            except Exception as error:  # anything else is retried with backoff, and logged
                log.warning("%s: %s %s failed at %s: %s", controller.name, type(obj).__name__, run.key, step,
                            error, exc_info=not _expected(error))
                if _invalid(error):
                    return _failed(controller, obj, state, generation, PermanentError(str(error), reason="Invalid"),
                                   run)
                return _retry(controller, obj, state, generation, TemporaryError(str(error), reason=_reason(error)),
                              None, run)
            if time.monotonic() - renewed > seconds / 3:  # a long step: keep the leases for the steps to come
                renewed = time.monotonic()
                for key in held:
                    if key:
                        leases.renew(key, run.owner, seconds)
            if run.deleted:
                break
        if run.deleted:  # the object finished its deletion: nothing left to record
            ControllerState.objects.filter(controller=controller.name, key=run.key).delete()
            return Outcome("success", run.result)
        _succeeded(controller, obj, state, generation, run)
    return Outcome("success", run.result)


def _expected(error: Exception) -> bool:
    from edgeplatform.kube import KubeError

    return isinstance(error, KubeError)


def _invalid(error: Exception) -> bool:
    """A request the API server refused as invalid (400, 422): the same spec would be refused again."""
    from edgeplatform.kube import KubeError

    return isinstance(error, KubeError) and error.status in (400, 422)


def _reason(error: Exception) -> str:
    from edgeplatform.kube import KubeError

    if isinstance(error, KubeError):
        return "Conflict" if error.conflict else "Unavailable" if error.retryable or not error.status else "ApiError"
    return "Error"


def _succeeded(controller: Controller, obj, state: ControllerState, generation: int, run: Run) -> None:
    now = clock.now()
    state.observed_generation, state.step, state.step_generation = generation, "", None
    state.reason, state.message = run.reason or "Reconciled", run.message
    state.retry_count, state.next_retry = 0, None
    state.last_success, state.failed_generation = now, None
    _record(controller, obj, state, generation, ok=True, now=now, fields=run.status, conditions=run.conditions)


def _retry(controller: Controller, obj, state: ControllerState, generation: int, error: TemporaryError,
           delay: float | None, run: Run) -> Outcome:
    now = clock.now()
    wait = backoff.delay(state.retry_count) if delay is None else delay
    state.retry_count += 1
    state.step_generation, state.reason, state.message = generation, error.reason, str(error)[:2000]
    state.next_retry, state.last_failure = now + timedelta(seconds=wait), now
    _record(controller, obj, state, generation, ok=False, now=now, fields=run.status, conditions=run.conditions)
    return Outcome("retry", retry_in=wait)


def _failed(controller: Controller, obj, state: ControllerState, generation: int, error: PermanentError,
            run: Run) -> Outcome:
    now = clock.now()
    state.failed_generation, state.step_generation = generation, generation
    state.reason, state.message = error.reason, str(error)[:2000]
    state.retry_count, state.next_retry, state.last_failure = 0, None, now
    _record(controller, obj, state, generation, ok=False, now=now, fields=run.status, conditions=run.conditions)
    return Outcome("permanent")


def _record(controller: Controller, obj, state: ControllerState, generation: int, *, ok: bool, now,
            fields: dict, conditions: list = ()) -> None:
    """Save the state row and, through the write path, the object's status (one transaction): the base's fields,
    the kind's own ``fields`` (``run.status``; a None value removes the field) and ``conditions``
    (``run.conditions``, each in place of the one of its type)."""
    with transaction.atomic():
        state.save()
        if controller.writes_status:
            from edgeplatform.resources.services import save_status

            def change(current):
                rendered = status.render(current, state, type_=controller.condition, ok=ok, generation=generation,
                                         now=now)
                rendered.update(fields)
                for item in conditions:
                    rendered["conditions"] = status.set_condition(rendered.get("conditions"), item)
                return {name: value for name, value in rendered.items() if value is not None}

            save_status(obj, change, notable=status.notable)
