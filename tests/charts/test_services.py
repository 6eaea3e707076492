"""Uploads and removals are audited once each (who, what, repository, digest), whichever surface made them, and
refusals are audited as the rest of the API's are."""
from __future__ import annotations

import hashlib

from django.test import Client

from clusters.models import Cluster
from iam.audit.models import AuditEvent
from tests.charts.conftest import archive, bearer


def _events(**filters):
    return list(AuditEvent.objects.filter(resource="charts", **filters).order_by("id"))


def test_upload_overwrite_and_delete_are_one_event_each(people):
    token = people["admin1"][1]
    client = Client()
    first, second = archive("demo", "0.1.0"), archive("demo", "0.1.0", description="again")
    assert client.post("/api/chartrepo/c1/charts", data=first, content_type="application/gzip",
                       **bearer(token)).status_code == 201
    assert client.post("/api/chartrepo/c1/charts?force", data=second, content_type="application/gzip",
                       **bearer(token)).status_code == 201
    assert client.delete("/api/chartrepo/c1/charts/demo/0.1.0", **bearer(token)).status_code == 200
    created, updated, deleted = _events()
    cluster_path = Cluster.objects.get(name="c1").scope_path
    for event in (created, updated, deleted):
        assert event.actor == "admin1" and event.result == "allowed" and event.scope_path == cluster_path
        assert event.api_group == "ext.theriseunion.io" and event.kind == "ChartVersion"
        assert event.name == "demo-0.1.0"
    assert (created.verb, created.status_code) == ("create", 201)
    assert created.after == {"repository": "c1", "name": "demo", "version": "0.1.0", "size": len(first),
                             "digest": f"sha256:{hashlib.sha256(first).hexdigest()}"}
    assert updated.verb == "update"
    assert updated.before["digest"] == f"sha256:{hashlib.sha256(first).hexdigest()}"
    assert updated.after["digest"] == f"sha256:{hashlib.sha256(second).hexdigest()}"
    assert deleted.verb == "delete" and deleted.before["digest"] == updated.after["digest"]


def test_refusals_are_audited_as_denied(people):
    client = Client()
    # a viewer's upload: 403; an anonymous one: 401; a stranger's delete in a hidden cluster: 404 hiding it
    assert client.post("/api/chartrepo/c1/charts", data=archive(), content_type="application/gzip",
                       **bearer(people["viewer1"][1])).status_code == 403
    assert client.post("/api/chartrepo/library/charts", data=archive(), content_type="application/gzip"
                       ).status_code == 401
    assert client.delete("/api/chartrepo/c1/charts/demo/0.1.0", **bearer(people["nobody"][1])).status_code == 404
    viewer, anonymous, hidden = _events(result="denied")
    assert (viewer.actor, viewer.verb, viewer.status_code, viewer.name) == ("viewer1", "create", 403, "")
    assert viewer.scope_path.endswith("c1")
    assert (anonymous.actor, anonymous.verb, anonymous.status_code) == ("anonymous", "create", 401)
    assert (hidden.actor, hidden.verb, hidden.status_code) == ("nobody", "delete", 404)
    assert hidden.scope_path == ""  # the event tells the stranger no more than the 404 did
    assert not _events(result="allowed")


def test_a_bad_archive_is_no_event(people):
    response = Client().post("/api/chartrepo/c1/charts", data=b"nonsense", content_type="application/gzip",
                             **bearer(people["admin1"][1]))
    assert response.status_code == 400 and not _events()
