"""When a deployment changes, or a version of an application becomes Approved, queue the reconciles after commit.

Listens to the write path's ``object_saved`` (every surface's writes, the CRD sync's included):

* an ApplicationDeployment's spec, metadata or deletion write queues that deployment (its status writes, the
  controller's own, queue nothing);
* an ApplicationVersion whose ``status.reviewPhase`` becomes ``Approved`` (or that is written Approved) queues
  every deployment of its application: one whose request now admits a newer version rolls it out, one that was
  Pending for want of a version starts.

A broker outage after the commit is logged (``enqueue_logged``); beat's ``requeue`` finds what lags.
"""
from __future__ import annotations

from django.db import transaction

from edgeplatform.resources.services import object_saved

__all__ = ["connect"]


def _approved(manifest) -> bool:
    return ((manifest or {}).get("status") or {}).get("reviewPhase") == "Approved"


def _on_saved(sender, *, obj, before=None, after=None, status_only=False, **kwargs) -> None:
    from appstore.models import ApplicationDeployment, ApplicationVersion

    if isinstance(obj, ApplicationDeployment):
        if not status_only:
            key = obj.pk
            transaction.on_commit(lambda: _enqueue_one(key))
        return
    if isinstance(obj, ApplicationVersion) and _approved(after) and not _approved(before):
        application_id = obj.application_id
        transaction.on_commit(lambda: _enqueue_application(application_id))


def _enqueue_one(key) -> None:
    from appstore.controller import CONTROLLER
    from edgeplatform.controllers.tasks import enqueue_logged

    enqueue_logged(CONTROLLER, key, "application deployment")


def _enqueue_application(application_id) -> None:
    from appstore.controller import CONTROLLER
    from appstore.models import ApplicationDeployment
    from edgeplatform.controllers.tasks import enqueue_each

    enqueue_each(CONTROLLER, ApplicationDeployment.objects.filter(application_id=application_id),
                 "application deployment")


def connect() -> None:
    """Listen to the write path (idempotent)."""
    object_saved.connect(_on_saved, dispatch_uid="appstore-enqueue")
