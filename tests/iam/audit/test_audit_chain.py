"""The audit log's hash chain: `manage.py audit verify` finds changed, removed, forged and cut-off rows; pruning keeps
it whole."""
import hashlib
import threading
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from iam.audit import record
from iam.audit.chain import canonical, digest, seal_pending
from iam.audit.models import AuditEvent, ChainHead
from iam.audit.tasks import prune


def verify(*options) -> str:
    out = StringIO()
    call_command("audit", "verify", *options, stdout=out)
    return out.getvalue()


def broken(*options) -> str:
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify", *options, stdout=StringIO())
    return str(failure.value)


def noted_head() -> str:
    """The head as an operator notes it, outside the database, from the output of `audit verify`."""
    [line] = [line for line in verify().splitlines() if line.startswith("head ")]
    return line.removeprefix("head ")


def forge_pending(**fields) -> AuditEvent:
    """What someone with write access to the database but not the key inserts: a row waiting to be sealed."""
    values = {"timestamp": timezone.now(), "actor": "mallory", "verb": "delete", "resource": "workspaces",
              "name": "prod", "result": "allowed", "status_code": 200} | fields
    return AuditEvent.objects.create(**values)


@pytest.fixture
def chain(db):
    """Five fresh events sealed at the end of the chain; their sequence numbers.

    Tests run inside one transaction that never commits, so they seal by hand what a commit would seal.
    """
    ids = [record("update", resource="workspaces", name=f"w{i}", actor="ann").id for i in range(5)]
    assert seal_pending() >= 5
    return list(AuditEvent.objects.filter(id__in=ids).order_by("sequence").values_list("sequence", flat=True))


def test_an_untouched_chain_verifies(chain):
    assert verify().startswith("audit chain OK")
    assert f"#{chain[-1]})" in verify()


def test_a_changed_field_names_the_event(chain):
    AuditEvent.objects.filter(sequence=chain[2]).update(actor="mallory")
    assert broken() == f"audit chain broken at event #{chain[2]}: event #{chain[2]} was changed: " \
                       "its content does not match its hash"


def test_a_changed_diff_names_the_event(chain):
    AuditEvent.objects.filter(sequence=chain[1]).update(after={"spec": {"replicas": 3}})
    assert f"#{chain[1]} was changed" in broken()


def test_a_changed_and_rehashed_event_is_caught_by_the_next_one(chain):
    event = AuditEvent.objects.get(sequence=chain[2])
    event.actor = "mallory"
    event.hash = digest(event)
    event.save()
    message = broken()
    assert message.startswith(f"audit chain broken at event #{chain[3]}") and f"event #{chain[2]}" in message


def test_a_whole_chain_rewritten_without_the_key_is_caught(chain):
    """Someone with write access to the database but not the audit key re-chains every row after a change."""
    AuditEvent.objects.filter(sequence=chain[2]).update(actor="mallory")
    previous = AuditEvent.objects.get(sequence=chain[1]).hash
    for sequence in chain[2:]:
        event = AuditEvent.objects.get(sequence=sequence)
        event.previous_hash = previous
        event.hash = previous = hashlib.sha256(canonical(event)).hexdigest()
        event.save()
    ChainHead.objects.filter(pk=1).update(last_hash=previous)
    assert f"#{chain[2]} was changed" in broken()


def test_a_removed_middle_event_is_named(chain):
    AuditEvent.objects.filter(sequence=chain[2]).delete()
    assert broken().startswith(f"audit chain broken at event #{chain[2]}: event #{chain[2]} is missing")


def test_removed_newest_events_are_named(chain):
    AuditEvent.objects.filter(sequence=chain[-1]).delete()
    assert f"event #{chain[-1]} is missing" in broken()
    AuditEvent.objects.filter(sequence=chain[-2]).delete()
    assert f"event #{chain[-2]}–#{chain[-1]} is missing" in broken()


def test_an_event_added_behind_the_chains_back_is_caught(chain):
    newest = AuditEvent.objects.get(sequence=chain[-1])
    forged = AuditEvent(sequence=newest.sequence + 1, timestamp=newest.timestamp, actor="mallory", verb="delete",
                        result="allowed", status_code=200, previous_hash=newest.hash)
    forged.hash = digest(forged)
    forged.save()
    assert broken().startswith(f"audit chain broken at event #{forged.sequence}: event #{forged.sequence} was "
                               "added outside the chain")


# --- rows inserted behind the platform's back, waiting to be sealed ---------------------------------------------

def test_a_forged_pending_row_is_not_sealed_and_verify_names_it(chain):
    # GIVEN a row inserted straight into the database, unsealed, as the platform's own unsealed rows are
    forged = forge_pending()
    # WHEN the chain is sealed (any commit, prune or verify does that)
    seal_pending()
    # THEN the row stays out of the chain, and verify fails naming it
    forged.refresh_from_db()
    assert forged.sequence is None
    assert broken() == (f"audit chain broken at event id {forged.id}: event id {forged.id} waits to be sealed, but "
                        "its seal does not verify: it was not written by the platform, or was changed since")


def test_a_forged_row_with_a_made_up_seal_does_not_stop_the_chain(chain):
    # GIVEN a forged row whose seal was computed without the key, and genuine events recorded after it
    forged = forge_pending()
    forged.hash = hashlib.sha256(canonical(forged)).hexdigest()
    forged.save()
    genuine = record("update", resource="workspaces", name="after", actor="ann")
    # WHEN the chain is sealed
    seal_pending()
    # THEN the genuine event is chained right after the old end, and only the forged row is reported
    genuine.refresh_from_db()
    assert genuine.sequence == chain[-1] + 1
    assert AuditEvent.objects.get(pk=forged.pk).sequence is None
    assert f"event id {forged.id} waits to be sealed, but its seal does not verify" in broken()


def test_a_pending_event_changed_before_its_seal_is_refused(chain):
    # GIVEN an event of a transaction still open (so not sealed yet) that someone then rewrites in the database
    with transaction.atomic():
        event = record("delete", resource="workspaces", name="prod", actor="mallory")
    AuditEvent.objects.filter(pk=event.pk).update(actor="ann")
    # WHEN it is to be sealed
    seal_pending()
    # THEN it is not, and verify names it
    assert AuditEvent.objects.get(pk=event.pk).sequence is None
    assert broken().startswith(f"audit chain broken at event id {event.id}: event id {event.id} waits to be sealed, "
                               "but its seal does not verify")


def test_a_copy_of_an_event_is_not_sealed_twice(chain):
    # GIVEN a genuine unsealed event, copied row and seal while it waited, then sealed
    event = record("login", actor="ann")
    row = AuditEvent.objects.values().get(pk=event.pk)
    seal_pending()
    sealed = AuditEvent.objects.get(pk=event.pk)
    # WHEN the copy is inserted again, and again next to a second waiting copy
    copy = AuditEvent.objects.create(**(row | {"id": None}))
    twin = AuditEvent.objects.create(**(row | {"id": None}))
    seal_pending()
    # THEN neither copy is sealed, and verify names the first one as a copy of the sealed event
    assert AuditEvent.objects.filter(pk__in=[copy.pk, twin.pk], sequence__isnull=True).count() == 2
    assert broken().endswith(f"event id {copy.id} waits to be sealed, but it is a copy of event #{sealed.sequence}")


def test_a_genuine_event_waiting_for_its_seal_is_fine(chain):
    # GIVEN an event inserted by the platform whose transaction committed but whose seal has not run yet
    event = record("update", resource="workspaces", name="late", actor="ann")
    assert AuditEvent.objects.get(pk=event.pk).sequence is None
    # WHEN verify runs THEN it seals it and the chain is whole
    assert verify().startswith(f"audit chain OK: 6 events (#{chain[0]}–#{chain[-1] + 1})")


# --- the head: rewound, deleted, and the anchor outside the database ---------------------------------------------

def test_a_head_pointed_back_at_the_previous_event_is_caught(chain):
    # GIVEN the newest event deleted and the head rewound to the one before, with values copied from its row
    previous = AuditEvent.objects.get(sequence=chain[-2])
    AuditEvent.objects.filter(sequence=chain[-1]).delete()
    ChainHead.objects.filter(pk=1).update(last_sequence=previous.sequence, last_hash=previous.hash)
    # WHEN verify runs THEN the head's MAC does not verify
    assert broken() == ("audit chain broken: the chain head does not carry a valid MAC: it was changed without the "
                        f"key (pointed back at an older event?), so events after #{chain[-2]} may have been removed")


def test_a_rewound_head_stays_caught_after_new_events(chain):
    # GIVEN a rewound head
    previous = AuditEvent.objects.get(sequence=chain[-2])
    AuditEvent.objects.filter(sequence=chain[-1]).delete()
    ChainHead.objects.filter(pk=1).update(last_sequence=previous.sequence, last_hash=previous.hash)
    # WHEN the platform goes on recording, sealed in place and after a commit
    record("update", resource="workspaces", name="next", actor="ann", seal_now=True)
    record("update", resource="workspaces", name="then", actor="ann")
    seal_pending()
    # THEN the new events are chained, but sealing them did not make the head valid again
    assert AuditEvent.objects.filter(sequence=chain[-1], name="next").exists()
    assert "the chain head does not carry a valid MAC" in broken()


def test_a_deleted_head_row_is_caught(chain):
    # GIVEN the newest event and the head row deleted, so that the head would be rebuilt from the events left
    AuditEvent.objects.filter(sequence=chain[-1]).delete()
    ChainHead.objects.all().delete()
    # WHEN verify runs (and later, after new events)
    message = broken()
    record("update", resource="workspaces", name="next", actor="ann")
    # THEN it fails both times, instead of accepting a rebuilt head
    assert message == ("audit chain broken: the chain head row was deleted (it was rebuilt from the events left), "
                       "so the newest events may have been removed with it")
    assert broken() == message
    assert AuditEvent.objects.get(name="next").sequence == chain[-1]  # the platform still records


def test_verify_prints_the_head_and_checks_one_noted_earlier(chain):
    # GIVEN a head noted earlier, and events recorded since
    noted = noted_head()
    newest = AuditEvent.objects.get(sequence=chain[-1])
    assert noted == f"{newest.sequence}:{newest.hash}"
    record("update", resource="workspaces", name="later", actor="ann")
    # WHEN verify checks it THEN that head is still in the chain
    assert verify("--expect-head", noted).splitlines()[-1] == f"expected head {noted} is in the chain"
    # and a head that never was is refused
    assert f"event #{chain[-1]} is not the one noted earlier" in broken("--expect-head", f"{chain[-1]}:{'0' * 64}")


def test_a_truncated_tail_is_caught_through_the_noted_head(db):
    # GIVEN events, a copy of the head row kept by someone with database access, and more events whose head an
    # operator noted outside the database
    record("update", resource="workspaces", name="w0", actor="ann", seal_now=True)
    kept_head = ChainHead.objects.values().get()
    for i in range(1, 4):
        record("update", resource="workspaces", name=f"w{i}", actor="ann", seal_now=True)
    noted = noted_head()
    # WHEN the newest events are deleted and the old head row is put back
    AuditEvent.objects.filter(sequence__gt=kept_head["last_sequence"]).delete()
    ChainHead.objects.filter(pk=1).update(**kept_head)
    # THEN the database alone looks whole (a limit stated in the README), but the noted head is missing
    assert verify().startswith("audit chain OK")
    seq = int(noted.split(":")[0])
    assert broken("--expect-head", noted) == (
        f"audit chain broken at event #{kept_head['last_sequence'] + 1}: event #{kept_head['last_sequence'] + 1}–"
        f"#{seq} is missing: head #{seq} was noted earlier, but the chain ends at #{kept_head['last_sequence']} "
        "(its tail was cut off)")


def test_a_noted_head_pruned_since_is_not_vouched_for(chain):
    # GIVEN heads noted after the first and after the newest event, then everything up to the newest pruned
    first, newest = (AuditEvent.objects.get(sequence=s) for s in (chain[0], chain[-1]))
    from iam.audit.retention import prune_older_than

    prune_older_than(timezone.now())
    seal_pending()
    # WHEN verify checks them THEN the newest, now the chain's anchor, still checks; the first cannot be
    assert verify("--expect-head", f"{newest.sequence}:{newest.hash}").startswith("audit chain OK: 1 events")
    assert broken("--expect-head", f"{first.sequence}:{first.hash}") == (
        f"audit chain broken: event #{first.sequence} was pruned since (the chain now "
        f"starts after #{newest.sequence}), so the head noted earlier can no longer be checked")

def test_pruning_keeps_the_rest_verifiable_and_is_itself_audited(chain):
    cutoff = AuditEvent.objects.get(sequence=chain[3]).timestamp
    from iam.audit.retention import prune_older_than

    assert prune_older_than(cutoff) >= 3
    seal_pending()
    kept = list(AuditEvent.objects.order_by("sequence").values_list("sequence", "verb", "actor"))
    assert kept[:2] == [(chain[3], "update", "ann"), (chain[4], "update", "ann")]
    assert kept[-1][1] == "prune" and kept[-1][0] == chain[4] + 1
    assert ChainHead.objects.get().anchor_sequence == chain[2]
    assert verify().startswith("audit chain OK: 3 events")
    # the oldest kept event is still checked against the anchor
    AuditEvent.objects.filter(sequence=chain[3]).delete()
    assert f"event #{chain[3]} is missing" in broken()


def test_the_beat_task_prunes_past_retention_as_the_system(chain, settings):
    assert prune.apply().result == 0  # everything is younger than EDGE_AUDIT_RETENTION_DAYS
    assert AuditEvent.objects.filter(sequence=chain[0]).exists()
    settings.EDGE_AUDIT_RETENTION_DAYS = 0
    result = prune.apply()
    assert result.result >= 5
    [event] = AuditEvent.objects.all()
    assert (event.verb, event.actor, event.resource) == ("prune", "system:iam.audit.tasks.prune", "auditevents")
    assert verify().startswith("audit chain OK: 1 events")
    assert "audit-prune" in __import__("django.conf", fromlist=["settings"]).settings.CELERY_BEAT_SCHEDULE


def test_manage_py_prune_takes_days(chain):
    out = StringIO()
    call_command("audit", "prune", "--days", "1", stdout=out)
    assert out.getvalue().strip() == "pruned 0 events"  # the events are seconds old
    assert AuditEvent.objects.filter(sequence__in=chain).count() == 5


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_keep_one_unbroken_chain():
    start = ChainHead.objects.get().last_sequence
    errors = []

    def writer(index):
        try:
            for i in range(10):
                record("update", resource="workspaces", name=f"t{index}-{i}", actor=f"writer{index}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sequences = list(AuditEvent.objects.filter(sequence__gt=start).order_by("sequence")
                     .values_list("sequence", flat=True))
    assert sequences == list(range(start + 1, start + 41))  # sealed on commit, without anyone asking
    assert not AuditEvent.objects.filter(sequence__isnull=True).exists()
    assert verify().startswith("audit chain OK"), connection.vendor


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_long_transaction_does_not_hold_up_other_writers():
    if connection.vendor == "sqlite":
        pytest.skip("SQLite lets one transaction write at a time anyway")
    written, go = threading.Event(), threading.Event()

    def slow():
        try:
            with transaction.atomic():
                record("update", resource="workspaces", name="slow", actor="slow")
                written.set()
                go.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow)
    thread.start()
    assert written.wait(10)
    started = time.monotonic()
    quick = record("update", resource="workspaces", name="quick", actor="quick")
    assert time.monotonic() - started < 2  # not queued behind the open transaction
    quick.refresh_from_db()
    assert quick.sequence is not None and quick.hash == digest(quick)
    go.set()
    thread.join(10)
    slow_event = AuditEvent.objects.get(name="slow")
    assert slow_event.sequence == quick.sequence + 1  # sealed in commit order
    assert verify().startswith("audit chain OK")
