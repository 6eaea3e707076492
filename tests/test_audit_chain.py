"""The audit log's hash chain: `manage.py audit verify` finds changed and removed rows; pruning keeps it whole."""
import threading
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction

from iam.audit import record
from iam.audit.chain import digest, seal_pending
from iam.audit.models import AuditEvent, ChainHead
from iam.audit.tasks import prune


def verify() -> str:
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def broken() -> str:
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify", stdout=StringIO())
    return str(failure.value)


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
    import hashlib

    from iam.audit.chain import canonical

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
