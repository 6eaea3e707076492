"""The Celery queues, and which tasks go to which (``CELERY_TASK_QUEUES`` and ``CELERY_TASK_ROUTES``).

Slow work is kept off the queues of fast work: a vcluster install must not hold up the CRD sync or the audit
log. The worker of ``deploy/Procfile`` consumes them all; a larger site runs workers per queue. The routes of
the settings come first; a controller's task not named there goes to its controller's ``queue``.
"""
from __future__ import annotations

__all__ = ["QUEUES", "ROUTES", "route"]

QUEUES = ("default", "components", "provision", "deploy", "sync", "audit")

#: task name (glob) → queue
ROUTES = {
    "edgeplatform.kube.tasks.*": {"queue": "sync"},
    "iam.native_rbac.*": {"queue": "sync"},
    "iam.audit.tasks.*": {"queue": "audit"},
}


def route(name, args, kwargs, options, task=None, **kw):
    """Celery router: the queue of the controller whose task ``name`` is (None: not a controller's task)."""
    from edgeplatform.controllers.tasks import controller_of_task

    controller = controller_of_task(name)
    return {"queue": controller.queue} if controller is not None else None
