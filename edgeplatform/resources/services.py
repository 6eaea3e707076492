"""Writing manifests: the one path by which the API, the console and the sync change objects.

Each write runs in one transaction, in the order kube-apiserver keeps: authorization comes before any
check whose answer depends on objects the caller may not see. A replace is authorized at the stored
object's scope before its body is read; the body is then decoded and its scope resolved (a scope the
caller may not learn of is answered as a missing one), a create is authorized there, and only then do
the kind's admission rules run (the role a binding names, the groups a user joins, escalation). A stale
``resourceVersion`` is a 409. A write that changes nothing stores nothing: the resourceVersion stays, no
row is saved and nothing is announced, as kube-apiserver answers a no-op update.

A kind's domain work runs inside the write, through the converter's hooks, each of which names a function
of the kind's app ``services`` module: ``admit`` (rules that look at other objects: escalation),
``after_save`` (what follows in the same transaction: membership, re-matching nodes), ``before_delete``
(contents that go first, one by one through this same path) and ``after_delete`` (what referred to the
row). Cascades a hook starts come back through ``save_manifest``/``delete_object`` as the system, so each
is authorized once (at the object the caller named), audited and synced like any other write.

Every write is announced through the signals below (the audit log and the CRD sync listen), so no surface
has to remember to log its changes.
"""
from __future__ import annotations

import copy

from django.db import IntegrityError, transaction
from django.dispatch import Signal

from edgeplatform import authz
from edgeplatform.resources import scopes
from edgeplatform.resources.converters import Converter, Parsed, converter_for
from edgeplatform.resources.errors import StatusError

#: An object was created or replaced; sent inside the write's transaction. kwargs: ``converter``, ``obj``,
#: ``before`` (its manifest before the write, None on create), ``after`` (its manifest now), ``user``
#: (None: the system), ``created``; a status write (:func:`save_status`) adds ``status_only=True`` and
#: ``notable`` (whether the phase or a condition's status changed); a delete held by a finalizer
#: (:func:`request_deletion`) adds ``deletion_requested=True``.
object_saved = Signal()
#: An object was deleted; sent inside the transaction. kwargs: ``converter``, ``obj``, ``before``, ``user``.
object_deleted = Signal()
#: The permission engine refused a write; sent after the write's transaction unwound. kwargs: ``converter``,
#: ``user``, ``verb``, ``path``, ``name``, ``error`` (the 403 StatusError).
write_denied = Signal()


def authorize(user, verb: str, converter: Converter, path: str, name: str = "", obj=None) -> None:
    """Raise 403 unless ``user`` may ``verb`` objects of this kind at ``path``; ``user=None`` is the system."""
    if user is None:
        return
    if not authz.authorizer().allowed(user, verb, converter.group, converter.plural, path, name, obj):
        what = f'{converter.plural}.{converter.group}' if converter.group else converter.plural
        nameable = obj is not None or _may_name(user, path, name)
        where = f' at scope "{path}"' if nameable else ""
        error = StatusError(403, f'user "{user.get_username()}" cannot {verb} resource "{what}"{where}',
                            kind=converter.plural, name=name, group=converter.group)
        # the denial is audited, and the caller reads their own events: there too the scope is one they may know
        shown = path if nameable else next(scope for scope in scopes.chain(path)[1:]
                                           if scope == scopes.PLATFORM or authz.may_know_scope(user, scope))
        error.denial = {"converter": converter, "user": user, "verb": verb, "path": shown, "name": name}
        raise error


def _may_name(user, path: str, name: str) -> bool:
    """True when every scope ``path`` passes through is one ``user`` may learn of.

    A new object's path can hold a scope the caller did not name (the node group whose selector a new node's
    labels match); a refusal then names no scope. The last segment of a scope object's own path is the name the
    caller sent, and an existing object the caller may see (``obj``) shows its scope in its labels.
    """
    passes = scopes.chain(path)[1:] if scopes.name_of(path) == name else scopes.chain(path)
    return all(scope == scopes.PLATFORM or authz.may_know_scope(user, scope) for scope in passes)


def _announce_denial(error: StatusError) -> None:
    """Tell listeners about a refusal, once the write's transaction has unwound."""
    denial = getattr(error, "denial", None)
    if denial is not None and not getattr(error, "denial_announced", False):
        error.denial_announced = True
        write_denied.send(sender=type(denial["converter"]), error=error, **denial)


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch; returns a new value and leaves both arguments untouched."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def save_manifest(converter: Converter, manifest: dict, *, user=None, instance=None, url_name: str | None = None,
                  context: dict | None = None):
    """Create (``instance=None``) or replace an object from its manifest; return the saved row."""
    try:
        return _save_manifest(converter, manifest, user, instance, url_name, context)
    except StatusError as error:
        _announce_denial(error)
        raise


def _save_manifest(converter: Converter, manifest: dict, user, instance, url_name, context):
    context = dict(context or {})
    context.setdefault("user", user)
    with transaction.atomic():
        if instance is not None:
            rows = type(instance).objects
            if converter.related:  # locked: the row itself, not the rows it names
                rows = rows.select_for_update(of=("self",)).select_related(*converter.related)
            else:
                rows = rows.select_for_update()
            instance = rows.get(pk=instance.pk)
            # before the body is read: what it says must not be answered to one who may not change the object
            authorize(user, "update", converter, instance.scope_path, instance.name, instance)
        parsed = converter.parse(manifest, instance, url_name, context)
        if instance is not None and parsed.resource_version is not None \
                and parsed.resource_version != str(instance.resource_version):
            raise StatusError(409, f'Operation cannot be fulfilled on {converter.plural} "{instance.name}": '
                                   "the object has been modified; please apply your changes to the latest "
                                   "version and try again", "Conflict", kind=converter.plural,
                              name=instance.name, group=converter.group)
        target = converter.scope_path_for(parsed, instance)
        if instance is None or target != instance.scope_path:
            authorize(user, "create", converter, target, parsed.name)
        converter.admission(parsed, instance, context)
        parsed.extra["user"] = user
        if instance is None:
            obj = converter.model()
            converter.assign(obj, parsed)
            obj.scope_path = target
            return _store(converter, obj, parsed, user, None, created=True)
        before = converter.to_manifest(instance) if object_saved.has_listeners() else None
        stored = _row(instance)
        converter.assign(instance, parsed)
        instance.scope_path = target
        if _row(instance) == stored and not converter.changes_outside_row(instance, parsed):
            return instance  # a no-op: nothing saved, nothing announced, resourceVersion kept
        instance.resource_version += 1
        if instance.spec != stored["spec"]:
            instance.generation += 1
        return _store(converter, instance, parsed, user, before, created=False)


#: columns a write sets itself, whatever the manifest says
_BOOKKEEPING = frozenset({"id", "resource_version", "generation", "created", "updated"})


def _row(obj) -> dict:
    """What a write could change in the object's own row: every column but the bookkeeping ones."""
    return {f.attname: _plain(getattr(obj, f.attname)) for f in obj._meta.concrete_fields
            if f.attname not in _BOOKKEEPING}


def _plain(value):
    # PostgreSQL hands binary columns back as memoryview, which neither copies nor compares with bytes
    return bytes(value) if isinstance(value, memoryview) else copy.deepcopy(value)


def _store(converter: Converter, obj, parsed: Parsed, user, before, *, created: bool):
    """Save a new or changed row, run the kind's same-transaction work and announce the write."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise StatusError(409, f'{converter.plural} "{parsed.name}" already exists', "AlreadyExists",
                          kind=converter.plural, name=parsed.name, group=converter.group) from exc
    converter.after_save(obj, parsed, created=created)
    if object_saved.has_listeners():
        object_saved.send(sender=type(converter), converter=converter, obj=obj, before=before,
                          after=converter.to_manifest(obj), user=user, created=created)
    return obj


def save_status(obj, change, *, notable):
    """Write an object's status as the system: the status subresource of the write path.

    ``change(current)`` returns the new status from the one stored (read under a row lock, so two writers of
    one status, each with its own condition, do not undo each other). The spec is not touched, so
    ``generation`` stays; ``resourceVersion`` moves (as kube-apiserver's does on a status write). The write is
    announced like any other (the CRD sync applies the status), with ``status_only=True`` and
    ``notable=notable(before, after)``, so that the audit log records a phase change or a condition flip and not
    every retry. A status equal to the stored one writes nothing. Returns the stored row.
    """
    converter = converter_for(obj)
    with transaction.atomic():
        row = type(obj).objects.select_for_update().get(pk=obj.pk)
        current = copy.deepcopy(row.status or {})
        status = change(copy.deepcopy(current))
        if status == current:
            return row
        before = converter.to_manifest(row) if object_saved.has_listeners() else None
        row.status = status
        row.resource_version += 1
        row.save(update_fields=["status", "resource_version", "updated"])
        if object_saved.has_listeners():
            object_saved.send(sender=type(converter), converter=converter, obj=row, before=before,
                              after=converter.to_manifest(row), user=None, created=False, status_only=True,
                              notable=notable(current, status))
    return row


def delete_object(converter: Converter, obj, *, user=None, finalize: bool = False, context: dict | None = None):
    """Delete an object after checking ``delete`` at its scope; None once the row is gone.

    A kind whose delete a finalizer holds (``converter.finalizes(obj)``) is not removed: the delete is authorized,
    checked (``admit_delete``) and audited as a delete, and only asks for the removal (``request_deletion``) —
    the row stays, with ``deletion_requested`` set, and is returned. The kind's controller then does what must
    happen first (a Helm uninstall) and removes the row as the system with ``finalize=True``, which skips the
    request and its checks (a cluster that goes takes its contents so too, without waiting).
    """
    try:
        with transaction.atomic():
            authorize(user, "delete", converter, obj.scope_path, obj.name, obj)
            if not finalize:
                converter.admit_delete(obj, {"user": user, **(context or {})})
                if converter.finalizes(obj):
                    return request_deletion(converter, obj, user=user)
            before = converter.to_manifest(obj) if object_deleted.has_listeners() else None
            converter.before_delete(obj)
            obj.delete()
            converter.after_delete(obj)
            if before is not None:
                object_deleted.send(sender=type(converter), converter=converter, obj=obj, before=before, user=user)
        return None
    except StatusError as error:
        _announce_denial(error)
        raise


def request_deletion(converter: Converter, obj, *, user=None):
    """Mark a row as being deleted (its ``deletion_requested``, the custom resource's ``deletionTimestamp``) and
    return it; a row already marked is returned unchanged (a second delete is a no-op, as kube-apiserver's).

    A status-like write: the spec and ``generation`` stay, ``resourceVersion`` moves, and the change is announced
    with ``deletion_requested=True`` (the audit log records it as the delete it is; the CRD sync passes it on to
    the custom resource, and the kind's controller is told). Called by :func:`delete_object`, which authorizes.
    """
    from django.utils import timezone

    with transaction.atomic():
        row = type(obj).objects.select_for_update().get(pk=obj.pk)
        if row.deletion_requested is not None:
            return row
        before = converter.to_manifest(row) if object_saved.has_listeners() else None
        row.deletion_requested = timezone.now()
        row.resource_version += 1
        row.save(update_fields=["deletion_requested", "resource_version", "updated"])
        if object_saved.has_listeners():
            object_saved.send(sender=type(converter), converter=converter, obj=row, before=before,
                              after=converter.to_manifest(row), user=user, created=False, deletion_requested=True)
    return row


def delete_all(rows, *, finalize: bool = False) -> int:
    """Delete each row through the write path as the system (the actor in context is recorded), so that a
    cascade is audited and synced like any other delete (``finalize``: removed at once, even where a finalizer
    would hold a delete); how many were deleted or asked to be."""
    count = 0
    for obj in rows:
        delete_object(converter_for(obj), obj, finalize=finalize)
        count += 1
    return count


def save_as_system(obj, change=None, context: dict | None = None) -> object:
    """Re-save ``obj`` through the write path as the system after ``change(manifest)`` edits its manifest (none:
    the manifest as it is, so that what the kind derives from other objects is derived again); ``context``
    adds to what the kind's converter is told (a cluster child is told its cluster)."""
    converter = converter_for(obj)
    manifest = converter.to_manifest(obj)
    if change is not None:
        change(manifest)
    context = {**({"cluster": obj.cluster.name} if converter.cluster_child else {}), **(context or {})}
    return save_manifest(converter, manifest, instance=obj, url_name=obj.name, context=context or None)
