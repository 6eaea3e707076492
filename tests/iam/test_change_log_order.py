"""Change-log ids commit out of order under concurrent writers: no change may be skipped, and grants
computed while an earlier change was still uncommitted must not pass for fresh later (PostgreSQL;
SQLite writes one transaction at a time, so its ids always commit in order)."""
import threading

import pytest
from django.db import connection, transaction

from iam.engine.cache import GrantCache
from tests.support import binding_manifest

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CHECK = ("list", "", "pods", "clusters/c1/workspaces/w1/namespaces/n1")


@pytest.fixture
def scene(platform):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serializes writers: log ids cannot commit out of order")
    platform.cluster("c1")
    platform.workspace("w1", "c1")
    platform.namespace("n1", "c1", "w1")
    platform.user("slow")
    platform.user("quick")
    return platform


class SlowWriter(threading.Thread):
    """Binds ``slow`` in a transaction that stays open until told to commit (or roll back)."""

    def __init__(self, platform, commit=True):
        super().__init__(daemon=True)
        self.platform, self.commit = platform, commit
        self.written, self.go = threading.Event(), threading.Event()

    def run(self):
        try:
            with transaction.atomic():
                self.platform.apply(binding_manifest("slow-w1", "workspace-viewer", "workspace", "w1",
                                                     users=("slow",)))
                self.written.set()
                self.go.wait(10)
                if not self.commit:
                    transaction.set_rollback(True)
        finally:
            connection.close()


def allowed(cache: GrantCache, user: str) -> bool:
    from iam.models import User

    return cache.get(User.objects.get(name=user).pk).allows(*CHECK)


def test_change_committed_after_a_newer_one_is_seen(scene):
    process = GrantCache()
    assert not allowed(process, "slow")
    writer = SlowWriter(scene)
    writer.start()
    assert writer.written.wait(10)
    scene.apply(binding_manifest("quick-w1", "workspace-viewer", "workspace", "w1", users=("quick",)))
    process.poll()
    assert allowed(process, "quick")
    assert not allowed(process, "slow")  # still uncommitted
    writer.go.set()
    writer.join(10)
    process.poll()
    assert allowed(process, "slow")


def test_grants_built_before_an_earlier_change_committed_are_not_taken_from_the_shared_cache(scene):
    builder = GrantCache()
    writer = SlowWriter(scene)
    writer.start()
    assert writer.written.wait(10)
    scene.apply(binding_manifest("quick-w1", "workspace-viewer", "workspace", "w1", users=("quick",)))
    builder.poll()
    assert not allowed(builder, "slow")  # computed now and written to the shared cache
    writer.go.set()
    writer.join(10)
    later = GrantCache()  # a process that starts after the commit
    assert allowed(later, "slow")


def test_a_rolled_back_change_holds_the_watermark_only_until_the_gap_times_out(scene, monkeypatch):
    from iam.engine import cache as cache_mod

    process = GrantCache()
    process.poll()
    start = process._watermark
    writer = SlowWriter(scene, commit=False)
    writer.start()
    assert writer.written.wait(10)
    writer.go.set()
    writer.join(10)
    scene.apply(binding_manifest("quick-w1", "workspace-viewer", "workspace", "w1", users=("quick",)))
    process.poll()
    assert allowed(process, "quick") and not allowed(process, "slow")
    assert process._watermark == start  # the rolled-back id is a hole for now
    monkeypatch.setattr(cache_mod, "GAP_TIMEOUT", 0.0)
    process.poll()
    assert process._watermark == process._top > start
    assert process._holes() == []
