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

An unsealed event proves it was written by the platform: until it is sealed its ``hash`` holds its *seal*,
an HMAC over its content (:func:`seal_digest`) computed when it was inserted. Sealing refuses a row whose
seal does not verify, or that copies another event, and leaves it unsealed for ``audit verify`` to name.

The head records the newest sealed event (so removing the newest rows shows) and the anchor, the newest
pruned event (so the oldest kept one can be checked), under a MAC of its own (:func:`head_mac`): pointing
it back at an older event, or rebuilding it after its row was deleted, needs the key. A head without a
valid MAC is extended but never re-MACed, so it stays detectable.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from edgeplatform import crypto
from iam.audit.models import GENESIS, AuditEvent, ChainHead

__all__ = ["RECREATED", "Verification", "canonical", "digest", "head_mac", "insert", "normalize", "prune_before",
           "seal_digest", "seal_pending", "verify"]

log = logging.getLogger(__name__)

HASHED_FIELDS = ("sequence", "timestamp", "actor", "source_ip", "user_agent", "request_id", "verb", "api_group",
                 "resource", "kind", "name", "scope_path", "path", "result", "status_code", "message",
                 "before", "after", "previous_hash")
#: What an unsealed event's seal covers: everything but its place in the chain, unknown until it is sealed.
SEALED_FIELDS = tuple(name for name in HASHED_FIELDS if name not in ("sequence", "previous_hash"))
#: The ``mac`` of a head rebuilt because its row was missing while events existed: never a valid MAC.
RECREATED = "recreated"


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


def _json(event: AuditEvent, fields: tuple[str, ...]) -> bytes:
    data = {name: getattr(event, name) for name in fields}
    data["timestamp"] = event.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data["before"], data["after"] = _ints(event.before), _ints(event.after)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(message: bytes) -> str:
    return hmac.new(crypto.audit_key(), message, hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())  # bytes: a forged value need not be ASCII


def canonical(event: AuditEvent) -> bytes:
    """The bytes an event's hash covers: its fields as sorted, compact JSON."""
    return _json(event, HASHED_FIELDS)


def digest(event: AuditEvent) -> str:
    """The hash an event should carry: HMAC-SHA256 of its canonical content under the audit key.

    Keyed, so that someone who can write to the database but does not hold the key cannot re-chain
    rows after changing or removing some.
    """
    return _mac(canonical(event))


def seal_digest(event: AuditEvent) -> str:
    """The seal an unsealed event carries in ``hash``: HMAC of its content (no sequence, no previous hash).

    Computed when the platform inserts the event, so a row inserted or changed in the database by
    someone without the key cannot be sealed into the chain. The ``seal:`` prefix keeps it from ever
    equalling a chain hash or a head MAC.
    """
    return _mac(b"seal:" + _json(event, SEALED_FIELDS))


def head_mac(last_sequence: int, last_hash: str, anchor_sequence: int, anchor_hash: str) -> str:
    """The MAC a chain head with these values carries: rewinding or rebuilding the head needs the key.

    ``last_sequence`` only ever grows (pruning moves the anchor, never the end), so a head pointed back
    at an older event, with values copied from that event's row, does not verify.
    """
    return _mac(f"head:{last_sequence}:{last_hash}:{anchor_sequence}:{anchor_hash}".encode())


class Head(NamedTuple):
    """The head row's values as one locking statement returns them."""

    last_sequence: int
    last_hash: str
    anchor_sequence: int
    anchor_hash: str
    mac: str

    def intact(self, advance: int = 0) -> bool:
        """Does the MAC verify for the values before ``advance`` was added to ``last_sequence``?"""
        return _same(self.mac, head_mac(self.last_sequence - advance, self.last_hash, self.anchor_sequence,
                                        self.anchor_hash))


_HEAD_COLUMNS = ("last_sequence", "last_hash", "anchor_sequence", "anchor_hash", "mac")


def _lock_head(advance: int) -> Head | None:
    """Lock the head row and move it on by ``advance``; return its values after that.

    One ``UPDATE … RETURNING`` where the database has it: it locks the row (PostgreSQL row lock, SQLite's
    write lock at once) and reads it in one round trip. None when the head row is missing.
    """
    table = connection.ops.quote_name(ChainHead._meta.db_table)
    if connection.features.can_return_columns_from_insert:  # PostgreSQL; SQLite >= 3.35
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET last_sequence = last_sequence + %s WHERE id = 1 "
                           f"RETURNING {', '.join(_HEAD_COLUMNS)}", [advance])
            row = cursor.fetchone()
        return Head(*row) if row else None
    if not ChainHead.objects.filter(pk=1).update(last_sequence=F("last_sequence") + advance):
        return None
    return Head(*ChainHead.objects.filter(pk=1).values_list(*_HEAD_COLUMNS).get())


def _locked_head(advance: int) -> tuple[Head, bool]:
    """The locked head (see :func:`_lock_head`) and whether its MAC verified."""
    head = _lock_head(advance)
    if head is None:
        _recreate_head()
        head = _lock_head(advance)
    intact = head.intact(advance)
    if not intact:
        log.error("audit chain head (#%s) does not carry a valid MAC: extending it, but not re-sealing it",
                  head.last_sequence - advance)
    return head, intact


def _move_head(head: Head, intact: bool, **changes) -> None:
    """Write new head values; with a fresh MAC only if the head was intact, so a tampered head stays detectable."""
    if intact:
        moved = head._replace(**changes)
        changes["mac"] = head_mac(moved.last_sequence, moved.last_hash, moved.anchor_sequence, moved.anchor_hash)
    ChainHead.objects.filter(pk=1).update(**changes)


def _recreate_head() -> None:
    # The head is made by the migration; it is missing only after a flush (tests: no events left) or tampering.
    # Writes go on after the newest event, but a head rebuilt while events exist gets no valid MAC: deleting
    # the head row must not be a way to make a cut-off chain look whole (`audit verify` reports it).
    newest = AuditEvent.objects.filter(sequence__isnull=False).order_by("-sequence").first()
    oldest = AuditEvent.objects.filter(sequence__isnull=False).order_by("sequence").first()
    values = {"last_sequence": newest.sequence if newest else 0, "last_hash": newest.hash if newest else GENESIS,
              "anchor_sequence": oldest.sequence - 1 if oldest else 0,
              "anchor_hash": oldest.previous_hash if oldest else GENESIS}
    if AuditEvent.objects.exists():
        log.error("audit chain head missing: rebuilt after event #%s, marked as tampered with", values["last_sequence"])
        values["mac"] = RECREATED
    else:
        values["mac"] = head_mac(**values)
    try:
        with transaction.atomic():
            ChainHead.objects.create(pk=1, **values)
    except IntegrityError:
        pass  # another writer made it first


def insert(seal_now: bool = False, **fields) -> AuditEvent:
    """Insert an event in the caller's transaction (or its own, outside one).

    ``seal_now``: the caller's transaction commits right after this (the write path's own transaction, as
    its last statement), so the event is sealed in place: the head lock is then held only until that
    commit, and nothing is locked after it, so it can neither queue writers for long nor deadlock. Outside
    any transaction the event is sealed in place too. Otherwise it is inserted unsealed, carrying its seal
    (:func:`seal_digest`), and sealed once the surrounding transaction commits.
    """
    event = AuditEvent(timestamp=timezone.now(), **fields)
    event.before, event.after = normalize(event.before), normalize(event.after)
    seal_now = seal_now or not transaction.get_connection().in_atomic_block
    with transaction.atomic(savepoint=False):  # no SAVEPOINT round trips: a failed insert fails the write
        if seal_now:
            head, intact = _locked_head(advance=1)
            event.sequence, event.previous_hash = head.last_sequence, head.last_hash
            event.hash = digest(event)
        else:
            event.hash = seal_digest(event)
        event.save(force_insert=True)
        if seal_now:
            _move_head(head, intact, last_hash=event.hash)
        else:
            transaction.on_commit(_seal_after_commit, robust=True)
    return event


def _seal_after_commit() -> None:
    if AuditEvent.objects.filter(sequence__isnull=True).exists():  # a sealer before us took them all
        seal_pending(durable=False)


def _refusals(pending: list[AuditEvent]) -> dict[int, str]:
    """Why some of these unsealed events must not be chained, by id; the others may be.

    A row whose seal does not verify was not inserted by the platform (or was changed since). A row that
    repeats another one's seal is a copy: of an event waiting with it, or — found through the timestamp
    index, one query — of an event sealed already (sealing replaced its seal, but not its content).
    """
    refused, first_with = {}, {}
    for event in pending:
        if not _same(event.hash, seal_digest(event)):
            refused[event.pk] = "its seal does not verify: it was not written by the platform, or was changed since"
        elif event.hash in first_with:
            refused[event.pk] = f"it is a copy of event id {first_with[event.hash]}"
        else:
            first_with[event.hash] = event.pk
    if first_with:
        stamps = {event.timestamp for event in pending if event.pk not in refused}
        for other in AuditEvent.objects.filter(sequence__isnull=False, timestamp__in=stamps):
            copy = first_with.get(seal_digest(other))
            if copy is not None:
                refused[copy] = f"it is a copy of event #{other.sequence}"
    return refused


def seal_pending(batch: int = 500, durable: bool = True) -> int:
    """Chain every committed unsealed event, oldest row first; return how many were sealed.

    Rows that :func:`_refusals` refuses are skipped and stay unsealed (``audit verify`` names them), so a
    forged row can neither enter the chain nor stop it. ``durable=False`` lets PostgreSQL acknowledge the
    seal before it is flushed to disk: the events are already durable, a seal lost in a crash is simply
    redone, and any later durable commit flushes it.
    """
    sealed, after = 0, 0
    while True:
        with transaction.atomic():
            if not durable and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            head, intact = _locked_head(advance=0)
            sequence, previous = head.last_sequence, head.last_hash
            pending = list(AuditEvent.objects.filter(sequence__isnull=True, id__gt=after).order_by("id")[:batch])
            refused = _refusals(pending)
            for event in pending:
                if event.pk in refused:
                    log.error("audit event id %s not sealed: %s", event.pk, refused[event.pk])
                    continue
                sequence += 1
                event.sequence, event.previous_hash = sequence, previous
                event.hash = previous = digest(event)
                AuditEvent.objects.filter(pk=event.pk).update(sequence=event.sequence,
                                                              previous_hash=event.previous_hash, hash=event.hash)
            if sequence != head.last_sequence:
                _move_head(head, intact, last_sequence=sequence, last_hash=previous)
        sealed += len(pending) - len(refused)
        if len(pending) < batch:
            return sealed
        after = pending[-1].pk


@dataclass
class Verification:
    """The outcome of :func:`verify`: ``ok``, how many events were checked, the first bad one, and the head.

    ``bad_sequence`` names a sealed event, ``bad_id`` an unsealed one (it has no sequence); ``head`` is
    ``SEQUENCE:HASH`` of the newest event, to be noted outside the database for ``--expect-head``.
    """

    ok: bool
    checked: int
    first: int | None = None
    last: int | None = None
    bad_sequence: int | None = None
    message: str = ""
    bad_id: int | None = None
    head: str = ""


def verify(chunk_size: int = 2000, expect_head: tuple[int, str] | None = None) -> Verification:
    """Seal what waits for its seal, then walk the chain from the anchor to the head; stop at the first bad event.

    Then check the head's MAC, that every event still waiting is one the platform wrote, and, given
    ``expect_head`` (a ``(sequence, hash)`` head noted earlier), that it is still in the chain. The walk
    reads one snapshot (PostgreSQL: a repeatable-read transaction; SQLite's WAL read transactions are
    snapshots already), so events sealed meanwhile by running writers are not mistaken for forgeries.
    """
    seal_pending()
    snapshot = not connection.in_atomic_block
    with transaction.atomic():
        if snapshot and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        head = ChainHead.objects.filter(pk=1).first()
        result = _walk(head, chunk_size)
        if result.ok:
            result = _check_waiting(result, chunk_size)
        if result.ok and expect_head is not None:
            result = _check_expected(result, head, *expect_head)
        return result


def _walk(head: ChainHead | None, chunk_size: int) -> Verification:
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
        if AuditEvent.objects.exists():
            return bad(None, "the chain head is missing")
        return Verification(True, 0, head=f"0:{GENESIS}")
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
    if not Head(*(getattr(head, name) for name in _HEAD_COLUMNS)).intact():
        if head.mac == RECREATED:
            return bad(None, "the chain head row was deleted (it was rebuilt from the events left), so the newest "
                             "events may have been removed with it")
        return bad(None, f"the chain head does not carry a valid MAC: it was changed without the key (pointed back "
                         f"at an older event?), so events after #{head.last_sequence} may have been removed")
    return Verification(True, checked, first, newest, head=f"{head.last_sequence}:{head.last_hash}")


def _check_waiting(result: Verification, chunk_size: int) -> Verification:
    """Fail on the first unsealed event that sealing would refuse; the others just wait for their seal."""
    after = 0
    while chunk := list(AuditEvent.objects.filter(sequence__isnull=True, id__gt=after).order_by("id")[:chunk_size]):
        refused = _refusals(chunk)
        if refused:
            bad_id = min(refused)
            return dataclasses.replace(result, ok=False, bad_id=bad_id,
                                       message=f"event id {bad_id} waits to be sealed, but {refused[bad_id]}")
        after = chunk[-1].pk
    return result


def _check_expected(result: Verification, head: ChainHead, sequence: int, expected: str) -> Verification:
    """Is the head noted earlier (``sequence``, ``expected`` hash) still in the verified chain?"""
    def bad(at, message):
        return dataclasses.replace(result, ok=False, bad_sequence=at, message=message)

    if sequence < head.anchor_sequence:
        return bad(None, f"event #{sequence} was pruned since (the chain now starts after #{head.anchor_sequence}), "
                         "so the head noted earlier can no longer be checked")
    if sequence > head.last_sequence:
        missing = f"#{sequence}" if sequence == head.last_sequence + 1 else f"#{head.last_sequence + 1}–#{sequence}"
        return bad(head.last_sequence + 1, f"event {missing} is missing: head #{sequence} was noted earlier, but the "
                                           f"chain ends at #{head.last_sequence} (its tail was cut off)")
    if sequence == head.anchor_sequence:
        found = head.anchor_hash
    else:
        found = AuditEvent.objects.filter(sequence=sequence).values_list("hash", flat=True).get()
    if not _same(found, expected):
        return bad(sequence, f"event #{sequence} is not the one noted earlier: the chain was cut off before it and "
                             "has grown again, or was rewritten")
    return result


def prune_before(cutoff) -> tuple[int, int | None]:
    """Delete the sealed events older than ``cutoff`` and move the anchor to the newest deleted one.

    Returns (how many were deleted, the sequence of the new anchor). Runs in the caller's transaction.
    """
    seal_pending()
    with transaction.atomic():
        head, intact = _locked_head(advance=0)
        boundary = (AuditEvent.objects.filter(timestamp__lt=cutoff, sequence__isnull=False)
                    .order_by("-sequence").first())
        if boundary is None:
            return 0, None
        deleted, _ = AuditEvent.objects.filter(sequence__lte=boundary.sequence).delete()
        _move_head(head, intact, anchor_sequence=boundary.sequence, anchor_hash=boundary.hash)
    return deleted, boundary.sequence
