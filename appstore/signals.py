"""What the app store keeps up to date by itself, on the write path's signals (``edgeplatform.resources.services``).

* An Application's ``status.latestVersion`` (its newest Approved, non-deprecated release: what ``latest``
  resolves to, ``appstore.versions``) and ``status.versionCount`` follow every write, review decision,
  deprecation and delete of one of its versions, as a status write of the system (``save_status``: synced to the
  custom resource, not audited as a change of its own).
* When a namespace moves to another workspace (``scope_moved``), the deployments in it move with it, and so do
  applications (and their versions) of a workspace that moved: the permission engine reads each row's
  ``scope_path``.
* When a workspace is deleted (``scope_deleting``), its applications go first through the write path (audited,
  their custom resources removed), or the delete is refused (409) while one of them is deployed.

``connect()`` is called by the app's ``ready()``.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models import Q, Value
from django.db.models.functions import Concat, Substr

from edgeplatform.resources import services
from edgeplatform.resources.signals import scope_deleting, scope_moved

__all__ = ["connect", "deleting", "refresh_application", "summary"]

#: applications whose versions are being deleted with them: their status is not refreshed on the way out
_going: ContextVar[frozenset] = ContextVar("appstore_applications_going", default=frozenset())


@contextmanager
def deleting(application):
    """While the versions of ``application`` are deleted with it, leave its status alone."""
    token = _going.set(_going.get() | {application.pk})
    try:
        yield
    finally:
        _going.reset(token)


def summary(application) -> dict:
    """``latestVersion`` and ``versionCount`` of ``application`` as its versions stand."""
    from appstore import versions
    from appstore.review import APPROVED

    rows = list(application.versions.values_list("version", "review_phase", "deprecated"))
    approved = [text for text, phase, deprecated in rows if phase == APPROVED and not deprecated]
    return {"latestVersion": versions.newest(versions.LATEST, approved) or "", "versionCount": len(rows)}


def refresh_application(application) -> None:
    """Write ``summary`` into the application's status when it changed (``latestVersion`` dropped when there is
    none)."""
    wanted = summary(application)

    def change(current: dict) -> dict:
        current.update(wanted)
        if not current["latestVersion"]:
            current.pop("latestVersion")
        return current

    services.save_status(application, change, notable=lambda before, after: False)


def _version_written(sender, converter, obj, **kwargs):
    from appstore.models import Application, ApplicationVersion

    if converter.model is not ApplicationVersion or obj.application_id in _going.get():
        return
    application = Application.objects.filter(pk=obj.application_id).first()
    if application is not None:
        refresh_application(application)


def _under(field: str, path: str) -> Q:
    return Q(**{field: path}) | Q(**{f"{field}__startswith": path + "/"})


def _scope_moved(sender, old_path: str, new_path: str, **kwargs):
    """Rows of the app store at or below a scope that moved take its new path."""
    from appstore.models import Application, ApplicationDeployment, ApplicationVersion

    moved = Concat(Value(new_path), Substr("scope_path", len(old_path) + 1))
    for model in (ApplicationDeployment, Application, ApplicationVersion):
        model.objects.filter(_under("scope_path", old_path)).update(scope_path=moved)


def _scope_deleting(sender, path: str, **kwargs):
    """The applications of a workspace being deleted go first, each through the write path with its versions
    (an application still deployed refuses the workspace's delete: 409)."""
    from appstore.models import Application

    services.delete_all(Application.objects.filter(scope_path=path).order_by("name"))


def connect() -> None:
    """Listen to version writes and deletes and to scope moves (idempotent)."""
    services.object_saved.connect(_version_written, dispatch_uid="appstore-version-saved")
    services.object_deleted.connect(_version_written, dispatch_uid="appstore-version-deleted")
    scope_moved.connect(_scope_moved, dispatch_uid="appstore-scope-moved")
    scope_deleting.connect(_scope_deleting, dispatch_uid="appstore-scope-deleting")
