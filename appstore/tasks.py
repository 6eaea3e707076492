"""Celery tasks of the app store: the reconcile of one application deployment (``appstore.controller``), on the
``deploy`` queue; beat's ``edgeplatform.controllers.requeue`` queues what is due."""
from __future__ import annotations

from appstore.controller import CONTROLLER
from edgeplatform.controllers.tasks import task_for

__all__ = ["reconcile_deployment"]

#: ``reconcile_deployment.delay(deployment.pk)``
reconcile_deployment = task_for(CONTROLLER, "appstore.reconcile_deployment")
