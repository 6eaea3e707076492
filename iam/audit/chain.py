"""The hash chain: inserting, sealing in commit order, verifying, and pruning without breaking verification.

Sealing an event gives it the next gapless ``sequence`` and its ``hash``, HMAC-SHA256 (keyed by
``EDGE_AUDIT_KEY``, see ``edgeplatform.crypto.audit_key``) over its canonical
content including ``previous_hash``, under a lock on the :class:`ChainHead` row. An event is always
inserted in the transaction of the change it describes (a rolled-back change leaves none). When that
transaction commits right after (the write path's own transaction; a call outside any transaction) the
event is sealed in place; inside a longer, outer transaction it is inserted unsealed and sealed right
after the commit — so the global lock is never held across someone else's long transaction, and two
batches cannot deadlock on it. Events whose seal did not run (a process died between commit and seal)
are sealed by the next seal, ``audit verify`` or prune.

The head records the newest sealed event (so removing the newest rows shows) and the anchor, the newest
pruned event (so the oldest kept one can be checked).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from edgeplatform import crypto
from iam.audit.models import GENESIS, AuditEvent, ChainHead

__all__ = ["Verification", "canonical", "digest", "insert", "normalize", "prune_before", "seal_pending", "verify"]

log = logging.getLogger(__name__)

HASHED_FIELDS = ("sequence", "timestamp", "actor", "source_ip", "user_agent", "request_id", "verb", "api_group",
                 "resource", "kind", "name", "scope_path", "path", "result", "status_code", "message",
                 "before", "after", "previous_hash")


def normalize(value):
    """A JSON value as the database will give it back: plain types, integral floats as ints."""
    if value is None:
        return None
    value = json.loads(json.dumps(value, default=str))
    return _ints(value)


def _ints(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def canonical(event: AuditEvent) -> bytes:
    """The bytes an event's hash covers: its fields as sorted, compact JSON."""
    data = {name: getattr(event, name) for name in HASHED_FIELDS}
    data["timestamp"] = event.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data["before"], data["after"] = _ints(event.before), _ints(event.after)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(event: AuditEvent) -> str:
    """The hash an event should carry: HMAC-SHA256 of its canonical content under the audit key.

    Keyed, so that someone who can write to the database but does not hold the key cannot re-chain
    rows after changing or removing some.
    """
    return hmac.new(crypto.audit_key(), canonical(event), hashlib.sha256).hexdigest()


def _lock_head(advance: int) -> tuple[int, str] | None:
    """Lock the head row and move it on by ``advance``; return its (last_sequence, last_hash) after that.

    One ``UPDATE … RETURNING`` where the database has it: it locks the row (PostgreSQL row lock, SQLite's
    write lock at once) and reads it in one round trip. None when the head row is missing.
    """
    table = connection.ops.quote_name(ChainHead._meta.db_table)
    if connection.features.can_return_columns_from_insert:  # PostgreSQL; SQLite >= 3.35
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET last_sequence = last_sequence + %s WHERE id = 1 "
                           "RETURNING last_sequence, last_hash", [advance])
            row = cursor.fetchone()
        return tuple(row) if row else None
    if not ChainHead.objects.filter(pk=1).update(last_sequence=F("last_sequence") + advance):
        return None
    return tuple(ChainHead.objects.filter(pk=1).values_list("last_sequence", "last_hash").get())


def _locked_head(advance: int) -> tuple[int, str]:
    head = _lock_head(advance)
    if head is None:
        _recreate_head()
        head = _lock_head(advance)
    return head


def _recreate_head() -> None:
    # The head is made by the migration; it is missing only after a flush (tests) or tampering. Continue from
    # the newest event so writes go on; `audit verify` still checks the rows themselves.
    newest = AuditEvent.objects.filter(sequence__isnull=False).order_by("-sequence").first()
    if newest is not None:
        log.error("audit chain head missing: continuing after event #%s", newest.sequence)
    try:
        with transaction.atomic():
            ChainHead.objects.create(pk=1, last_sequence=newest.sequence if newest else 0,
                                     last_hash=newest.hash if newest else GENESIS)
    except IntegrityError:
        pass  # another writer made it first


def insert(seal_now: bool = False, **fields) -> AuditEvent:
    """Insert an event in the caller's transaction (or its own, outside one).

    ``seal_now``: the caller's transaction commits right after this (the write path's own transaction, as
    its last statement), so the event is sealed in place: the head lock is then held only until that
    commit, and nothing is locked after it, so it can neither queue writers for long nor deadlock. Outside
    any transaction the event is sealed in place too. Otherwise it is inserted unsealed and sealed once
    the surrounding transaction commits.
    """
    event = AuditEvent(timestamp=timezone.now(), **fields)
    event.before, event.after = normalize(event.before), normalize(event.after)
    seal_now = seal_now or not transaction.get_connection().in_atomic_block
    with transaction.atomic(savepoint=False):  # no SAVEPOINT round trips: a failed insert fails the write
        if seal_now:
            event.sequence, event.previous_hash = _locked_head(advance=1)
            event.hash = digest(event)
        event.save(force_insert=True)
        if seal_now:
            ChainHead.objects.filter(pk=1).update(last_hash=event.hash)
        else:
            transaction.on_commit(_seal_after_commit, robust=True)
    return event


def _seal_after_commit() -> None:
    if AuditEvent.objects.filter(sequence__isnull=True).exists():  # a sealer before us took them all
        seal_pending(durable=False)


def seal_pending(batch: int = 500, durable: bool = True) -> int:
    """Chain every committed unsealed event, oldest row first; return how many were sealed.

    ``durable=False`` lets PostgreSQL acknowledge the seal before it is flushed to disk: the events are
    already durable, a seal lost in a crash is simply redone, and any later durable commit flushes it.
    """
    sealed = 0
    while True:
        with transaction.atomic():
            if not durable and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            sequence, previous = _locked_head(advance=0)
            pending = list(AuditEvent.objects.filter(sequence__isnull=True).order_by("id")[:batch])
            for event in pending:
                sequence += 1
                event.sequence, event.previous_hash = sequence, previous
                event.hash = previous = digest(event)
                AuditEvent.objects.filter(pk=event.pk).update(sequence=event.sequence,
                                                              previous_hash=event.previous_hash, hash=event.hash)
            if pending:
                ChainHead.objects.filter(pk=1).update(last_sequence=sequence, last_hash=previous)
        sealed += len(pending)
        if len(pending) < batch:
            return sealed


@dataclass
class Verification:
    """The outcome of :func:`verify`: ``ok``, how many events were checked, and the first bad one."""

    ok: bool
    checked: int
    first: int | None = None
    last: int | None = None
    bad_sequence: int | None = None
    message: str = ""


def verify(chunk_size: int = 2000) -> Verification:
    """Seal what waits for its seal, then walk the chain from the anchor to the head; stop at the first bad event.

    The walk reads one snapshot (PostgreSQL: a repeatable-read transaction; SQLite's WAL read transactions
    are snapshots already), so events sealed meanwhile by running writers are not mistaken for forgeries.
    """
    seal_pending()
    snapshot = not connection.in_atomic_block
    with transaction.atomic():
        if snapshot and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _walk(chunk_size)


def _walk(chunk_size: int) -> Verification:
    head = ChainHead.objects.filter(pk=1).first()
    expected_sequence = (head.anchor_sequence if head else 0) + 1
    expected_previous = head.anchor_hash if head else GENESIS
    checked, first, last = 0, None, None

    def bad(sequence, message):
        return Verification(False, checked, first, last and last.sequence, sequence, message)

    for event in AuditEvent.objects.filter(sequence__isnull=False).order_by("sequence").iterator(chunk_size):
        if event.sequence < expected_sequence:
            return bad(event.sequence, f"event #{event.sequence} lies before the chain's anchor "
                                       f"#{expected_sequence - 1} (it was inserted, or the anchor was changed)")
        if event.sequence > expected_sequence:
            missing = (f"#{expected_sequence}" if event.sequence == expected_sequence + 1
                       else f"#{expected_sequence}–#{event.sequence - 1}")
            return bad(expected_sequence, f"event {missing} is missing (found #{event.sequence} after "
                                          f"{f'#{last.sequence}' if last else 'the anchor'})")
        if event.hash != digest(event):
            return bad(event.sequence, f"event #{event.sequence} was changed: its content does not match its hash")
        if event.previous_hash != expected_previous:
            before = f"event #{last.sequence}" if last else "the chain's anchor"
            return bad(event.sequence, f"event #{event.sequence} does not follow {before}: the previous hash "
                                       f"differs, so {before} was changed or replaced")
        first = first or event.sequence
        last, checked = event, checked + 1
        expected_sequence, expected_previous = event.sequence + 1, event.hash
    if head is None:
        if last is not None:
            return bad(None, "the chain head is missing")
        return Verification(True, 0)
    newest = last.sequence if last else head.anchor_sequence
    if head.last_sequence < newest:
        return bad(head.last_sequence + 1, f"event #{head.last_sequence + 1} was added outside the chain: its head "
                                           f"records #{head.last_sequence} as the newest event")
    if head.last_sequence != newest:
        missing = (f"#{newest + 1}" if head.last_sequence == newest + 1 else f"#{newest + 1}–#{head.last_sequence}")
        return bad(newest + 1, f"event {missing} is missing: the chain ends at #{newest} but its head records "
                               f"#{head.last_sequence} as the newest event")
    if last is not None and head.last_hash != last.hash:
        return bad(last.sequence, f"event #{last.sequence} does not match the hash the chain head records for it")
    return Verification(True, checked, first, newest)


def prune_before(cutoff) -> tuple[int, int | None]:
    """Delete the sealed events older than ``cutoff`` and move the anchor to the newest deleted one.

    Returns (how many were deleted, the sequence of the new anchor). Runs in the caller's transaction.
    """
    seal_pending()
    with transaction.atomic():
        _locked_head(advance=0)
        boundary = (AuditEvent.objects.filter(timestamp__lt=cutoff, sequence__isnull=False)
                    .order_by("-sequence").first())
        if boundary is None:
            return 0, None
        deleted, _ = AuditEvent.objects.filter(sequence__lte=boundary.sequence).delete()
        ChainHead.objects.filter(pk=1).update(anchor_sequence=boundary.sequence, anchor_hash=boundary.hash)
    return deleted, boundary.sequence
