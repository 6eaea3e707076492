"""The revision history and the declarative rollback, as the API serves them: GIVEN a component upgraded once,
WHEN a user lists its revisions and rolls it back, THEN the engine decides who may (get, update), the spec takes
the old revision's version and values (audited), and the controller's next reconcile makes a new revision."""
from __future__ import annotations

import pytest

from iam.audit.models import AuditEvent
from tests.components.conftest import run
from tests.factories.components import component

BASE = "/oapis/ext.theriseunion.io/v1alpha1/namespaces/edge/components/agent"


@pytest.fixture
def upgraded(site):
    comp = component(site.cluster, "agent", {"chart": {"name": "component"}, "version": "1.0.0",
                                             "values": {"message": "one"}})
    assert run(comp).result == "success"
    comp.spec = {"chart": {"name": "component"}, "version": "1.1.0", "values": {"message": "two"}}
    comp.generation += 1
    comp.save()
    assert run(comp).result == "success"
    return comp


def test_revisions_and_rollback_through_the_api(site, upgraded, platform, api):
    admin = platform.user("alice")
    platform.bind("alice-admin", "cluster-admin", "cluster", "edge", users=["alice"])
    client = api(admin)
    # WHEN the history is read THEN newest first, with chart versions and Helm's descriptions
    answer = client.get(f"{BASE}/revisions")
    assert answer.status_code == 200, answer.content
    items = answer.json()["items"]
    assert [(i["revision"], i["status"], i["chartVersion"]) for i in items] == [
        (2, "deployed", "1.1.0"), (1, "superseded", "1.0.0")]
    assert items[0]["description"] == "Upgrade complete" and items[1]["appVersion"] == "1.0"
    # WHEN alice rolls back to revision 1 THEN the spec says 1.0.0 and its values, generation moved, audited
    answer = client.post(f"{BASE}/rollback", {"revision": 1})
    assert answer.status_code == 200, answer.content
    upgraded.refresh_from_db()
    assert upgraded.spec["version"] == "1.0.0" and upgraded.spec["values"] == {"message": "one"}
    assert upgraded.generation == 3
    assert AuditEvent.objects.filter(actor="alice", verb="update", name="agent").exists()
    # AND the controller upgrades to it: a new revision 3 with revision 1's chart and values
    assert run(upgraded).result == "success"
    assert site.kube.object("configmaps", "agent-settings", "edge-system")["data"] == {"message": "one",
                                                                                      "chart": "1.0.0"}
    assert client.get(f"{BASE}/revisions").json()["items"][0]["revision"] == 3


def test_who_may_read_history_and_roll_back(site, upgraded, platform, api):
    stranger = platform.user("bob")
    assert api(stranger).get(f"{BASE}/revisions").status_code == 404
    assert api(stranger).post(f"{BASE}/rollback", {"revision": 1}).status_code == 404
    admin = platform.user("carol", superuser=True)
    answer = api(admin).post(f"{BASE}/rollback", {"revision": 7})
    assert answer.status_code == 404 and "no revision 7" in answer.json()["message"]
    answer = api(admin).post(f"{BASE}/rollback", {"revision": "one"})
    assert answer.status_code == 422 and answer.json()["details"]["causes"][0]["field"] == "revision"
    upgraded.refresh_from_db()
    assert upgraded.spec["version"] == "1.1.0"
