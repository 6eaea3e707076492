"""What the audit log listens to: the write path, logins, lockouts and Celery tasks.

Connected by :class:`iam.audit.apps.AuditConfig`. Mutation events are written inside the mutation's
transaction (a receiver error fails the write: no change goes unrecorded).
"""
from __future__ import annotations

import logging

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import pre_save

from iam.audit import context as audit_context
from iam.audit.recorder import STORED_BEFORE, flush_denial, note_denial, record, record_write
from iam.audit.redaction import STORED_SECRETS, secret_columns

log = logging.getLogger(__name__)
USERS = {"resource": "users", "group": "iam.theriseunion.io", "kind": "User"}
_tasks: dict[str, tuple] = {}


def on_object_saved(sender, *, converter, obj, before, after, user, created, status_only=False, notable=True,
                    deletion_requested=False, **kwargs):
    """services.save_manifest wrote an object (or services.save_status its status: recorded only when the
    phase or a condition changed, so a controller retrying does not write one event per attempt; or
    services.request_deletion marked it as being deleted: recorded as the delete it is)."""
    if status_only and not notable:
        return
    verb = "delete" if deletion_requested else "create" if created else "update"
    record_write(verb, converter, obj, before=before, after=after, user=user)


def on_object_deleted(sender, *, converter, obj, before, user, **kwargs):
    """services.delete_object deleted an object."""
    record_write("delete", converter, obj, before=before, user=user)


def remember_stored_secrets(sender, instance, update_fields=None, **kwargs):
    """A row holding secrets outside its manifest is about to be saved: note what the database holds now,
    so that :func:`iam.audit.recorder.record_write` can tell whether the write changed a secret."""
    instance.__dict__.pop(STORED_BEFORE, None)
    columns = secret_columns(sender)
    if instance.pk is None or (update_fields is not None and not set(columns) & set(update_fields)):
        return
    row = sender._base_manager.filter(pk=instance.pk).values(*columns).first()
    instance.__dict__[STORED_BEFORE] = row or {}


def on_write_denied(sender, *, converter, user, verb, path, name, error, **kwargs):
    """The engine refused a write in services."""
    note_denial(verb=verb, converter=converter, user=user, path=path, name=name, error=error)


def on_logged_in(sender, request, user, **kwargs):
    """A session (or token endpoint) login succeeded."""
    record("login", **USERS, name=user.get_username(), actor=user.get_username(), request=request)


def on_logged_out(sender, request, user, **kwargs):
    """A session ended at the user's request (``user`` is None when the session had already expired)."""
    if user is not None:
        record("logout", **USERS, name=user.get_username(), actor=user.get_username(), request=request)


def on_login_failed(sender, credentials, request=None, **kwargs):
    """A login failed (wrong password, unknown user, or a locked account)."""
    username = str((credentials or {}).get("username") or "")[:253]
    locked = getattr(request, "axes_locked_out", False)  # set by django-axes while the name is locked
    record("login_failed", **USERS, name=username, actor=username or "anonymous", result="denied",
           status_code=429 if locked else 401, message="the account is locked" if locked else "",
           request=request)


def on_account_locked(sender, *, username, failures=None, locked_until=None, request=None, **kwargs):
    """iam.lockout.account_locked: repeated failures locked a user name."""
    until = locked_until.strftime("%Y-%m-%dT%H:%M:%SZ") if locked_until else "?"
    record("lockout", **USERS, name=username, actor="system:lockout", result="allowed", status_code=200,
           message=f"locked after {failures} failed logins until {until}", request=request)


def on_account_unlocked(sender, *, username, actor=None, was_locked=True, **kwargs):
    """iam.lockout.account_unlocked: an admin lifted a lock."""
    record("unlock", **USERS, name=username,
           actor=audit_context.username_of(actor) if actor is not None else None,
           message="lock lifted" if was_locked else "failed login count reset")


def on_task_prerun(sender=None, task_id=None, task=None, **kwargs):
    """A Celery task starts: its events are the system's, named after the task."""
    name = getattr(task, "name", None) or getattr(sender, "name", "task")
    context = audit_context.AuditContext(request_id=str(task_id or audit_context.new_request_id())[:64],
                                         actor_name=f"system:{name}")
    _tasks[task_id] = (audit_context.push(context), context)


def on_task_postrun(sender=None, task_id=None, **kwargs):
    """A Celery task ended: record a denial it noted, restore the outer context."""
    token, context = _tasks.pop(task_id, (None, None))
    if token is None:
        return
    audit_context.pop(token)
    flush_denial(context)


def connect() -> None:
    """Connect every receiver (idempotent: each has a dispatch uid)."""
    from celery.signals import task_postrun, task_prerun

    from edgeplatform.resources import services

    services.object_saved.connect(on_object_saved, dispatch_uid="audit-saved")
    services.object_deleted.connect(on_object_deleted, dispatch_uid="audit-deleted")
    services.write_denied.connect(on_write_denied, dispatch_uid="audit-denied")
    for label in STORED_SECRETS:  # "app.Model": connected once the model is loaded
        pre_save.connect(remember_stored_secrets, sender=label, dispatch_uid=f"audit-secrets-{label}")
    user_logged_in.connect(on_logged_in, dispatch_uid="audit-login")
    user_login_failed.connect(on_login_failed, dispatch_uid="audit-login-failed")
    user_logged_out.connect(on_logged_out, dispatch_uid="audit-logout")
    task_prerun.connect(on_task_prerun, dispatch_uid="audit-task-prerun", weak=False)
    task_postrun.connect(on_task_postrun, dispatch_uid="audit-task-postrun", weak=False)
    try:
        from iam import lockout
    except ImportError:  # lockout needs django-axes; without it there is nothing to listen to
        return
    lockout.account_locked.connect(on_account_locked, dispatch_uid="audit-lockout")
    lockout.account_unlocked.connect(on_account_unlocked, dispatch_uid="audit-unlock")


def disconnect() -> None:
    """Disconnect the write-path receivers (for measuring the audit log's cost)."""
    from edgeplatform.resources import services

    services.object_saved.disconnect(dispatch_uid="audit-saved")
    services.object_deleted.disconnect(dispatch_uid="audit-deleted")
    services.write_denied.disconnect(dispatch_uid="audit-denied")
    for label in STORED_SECRETS:
        pre_save.disconnect(sender=label, dispatch_uid=f"audit-secrets-{label}")
