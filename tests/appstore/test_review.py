"""Review of application versions through the API: submitted on write, decided by another reviewer, immutable
once approved, resubmitted after a rejection, deprecated; every step audited and the application's status kept."""
from __future__ import annotations

from appstore.models import ApplicationVersion
from iam.audit.models import AuditEvent
from tests.appstore.conftest import BASE, assert_status, deployment_manifest, version_manifest

VERSIONS = f"{BASE}/applicationversions"


def _review(client, name: str, decision: str, message: str = ""):
    return client.post(f"{VERSIONS}/{name}/review", {"decision": decision, "message": message})


def _application(client) -> dict:
    return client.get(f"{BASE}/applications/pos").json()["status"]


def test_a_version_is_submitted_by_its_writer_and_approved_by_another_reviewer(store):
    # WHEN alice publishes 1.0.0
    created = store.alice.post(VERSIONS, version_manifest("1.0.0"))
    assert created.status_code == 201, created.json()
    status = created.json()["status"]
    assert (status["reviewPhase"], status["submitter"], status["phase"]) == ("Pending", "alice", "Pending")
    assert status["submitTime"].endswith("Z")
    # THEN she may not approve it herself: 403, and it stays Pending
    body = assert_status(_review(store.alice, "pos-1-0-0", "Approve"), 403, "Forbidden")
    assert "submitted" in body["message"]
    assert ApplicationVersion.objects.get(name="pos-1-0-0").review_phase == "Pending"
    # a viewer of the workspace may not review at all
    assert_status(_review(store.vera, "pos-1-0-0", "Approve"), 403, "Forbidden")
    denied = AuditEvent.objects.filter(actor="vera", result="denied", name="pos-1-0-0")
    assert [(event.verb, event.resource, event.status_code) for event in denied] == [
        ("review", "applicationversions", 403)]
    assert _application(store.alice) == {"versionCount": 1}
    # WHEN bob approves it with a message THEN the decision is in its status and audited once
    approved = _review(store.bob, "pos-1-0-0", "Approve", "tested on shop 12")
    assert approved.status_code == 200, approved.json()
    status = approved.json()["status"]
    assert (status["reviewPhase"], status["reviewer"], status["reviewMessage"], status["phase"]) == (
        "Approved", "bob", "tested on shop 12", "Approved")
    assert status["reviewTime"].endswith("Z")
    events = AuditEvent.objects.filter(resource="applicationversions", name="pos-1-0-0", verb="approve")
    assert [(event.actor, event.result) for event in events] == [("bob", "allowed")]
    # AND the application's latest version is it
    assert _application(store.alice) == {"latestVersion": "1.0.0", "versionCount": 1}
    # WHEN it is decided again THEN 409: only a Pending version is decided
    assert_status(_review(store.admin, "pos-1-0-0", "Reject"), 409, "Conflict")


def test_an_approved_spec_is_immutable_and_a_change_is_a_new_version(store):
    store.alice.post(VERSIONS, version_manifest("1.0.0"))
    _review(store.bob, "pos-1-0-0", "Approve")
    stored = store.alice.get(f"{VERSIONS}/pos-1-0-0").json()
    changed = version_manifest("1.0.0", image="registry.example.com/shop/pos:hotfix")
    changed["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
    # WHEN the approved version's config is changed THEN 422 naming spec, and nothing changes
    assert_status(store.alice.put(f"{VERSIONS}/pos-1-0-0", changed), 422, "Invalid", "spec")
    assert store.alice.get(f"{VERSIONS}/pos-1-0-0").json() == stored
    # its labels may still change (metadata is not the config), and it stays approved
    patched = store.alice.patch(f"{VERSIONS}/pos-1-0-0", {"metadata": {"labels": {"channel": "stable"}}})
    assert patched.status_code == 200 and patched.json()["status"]["reviewPhase"] == "Approved"
    # the change as a new version is Pending
    assert store.alice.post(VERSIONS, version_manifest("1.0.1", image="registry.example.com/shop/pos:hotfix")) \
        .json()["status"]["reviewPhase"] == "Pending"
    assert _application(store.alice) == {"latestVersion": "1.0.0", "versionCount": 2}


def test_a_rejected_version_changed_is_resubmitted_and_cannot_be_deployed_meanwhile(store):
    store.alice.post(VERSIONS, version_manifest("1.1.0"))
    rejected = _review(store.bob, "pos-1-1-0", "Reject", "crashes on start")
    assert rejected.json()["status"]["reviewPhase"] == "Rejected"
    assert AuditEvent.objects.filter(name="pos-1-1-0", verb="reject", actor="bob").count() == 1
    # a deployment asking for exactly the rejected version is refused, naming spec.version
    assert_status(store.alice.post(f"{BASE}/namespaces/n1/applicationdeployments",
                                   deployment_manifest("pos", "1.1.0")), 422, "Invalid", "spec.version")
    # WHEN bob fixes it THEN it is Pending again, submitted by bob, the old decision cleared
    fixed = version_manifest("1.1.0", image="registry.example.com/shop/pos:1.1.0-fixed")
    answer = store.bob.put(f"{VERSIONS}/pos-1-1-0", fixed)
    assert answer.status_code == 200, answer.json()
    status = answer.json()["status"]
    assert status["reviewPhase"] == "Pending" and status["submitter"] == "bob"
    assert not {"reviewer", "reviewTime", "reviewMessage"} & set(status)
    # AND bob may not approve his own resubmission, alice may
    assert_status(_review(store.bob, "pos-1-1-0", "Approve"), 403, "Forbidden")
    assert _review(store.alice, "pos-1-1-0", "Approve").json()["status"]["reviewer"] == "alice"


def test_deprecation_blocks_exact_new_deployments_and_leaves_latest(store):
    for version in ("1.0.0", "1.2.0"):
        store.alice.post(VERSIONS, version_manifest(version))
        _review(store.bob, f"pos-{version.replace('.', '-')}", "Approve")
    assert _application(store.alice)["latestVersion"] == "1.2.0"
    # a Pending version cannot be deprecated
    store.alice.post(VERSIONS, version_manifest("1.3.0"))
    assert_status(store.alice.post(f"{VERSIONS}/pos-1-3-0/deprecate", {"deprecated": True}), 409, "Conflict")
    # WHEN 1.2.0 is deprecated THEN its label and phase say so and latest falls back to 1.0.0
    answer = store.alice.post(f"{VERSIONS}/pos-1-2-0/deprecate", {"deprecated": True})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["metadata"]["labels"]["app.theriseunion.io/deprecated"] == "true"
    assert answer.json()["status"]["phase"] == "Deprecated"
    assert _application(store.alice) == {"latestVersion": "1.0.0", "versionCount": 3}
    assert AuditEvent.objects.filter(name="pos-1-2-0", verb="update", actor="alice").count() == 1
    # AND a new deployment of exactly 1.2.0 is refused, naming spec.version (v1.2.0 too)
    for request in ("1.2.0", "v1.2.0"):
        assert_status(store.alice.post(f"{BASE}/namespaces/n1/applicationdeployments",
                                       deployment_manifest("pos", request)), 422, "Invalid", "spec.version")
    # while latest, a range, and a version not published yet are accepted (the controller resolves or waits)
    for name, request in (("pos-latest", "latest"), ("pos-range", "^1.0"), ("pos-next", "2.0.0")):
        created = store.alice.post(f"{BASE}/namespaces/n1/applicationdeployments",
                                   deployment_manifest(name, request))
        assert created.status_code == 201, created.json()
    # WHEN the deprecation is taken back THEN 1.2.0 is the latest again and deploys
    store.alice.post(f"{VERSIONS}/pos-1-2-0/deprecate", {"deprecated": False})
    assert _application(store.alice)["latestVersion"] == "1.2.0"
    assert store.alice.post(f"{BASE}/namespaces/n1/applicationdeployments",
                            deployment_manifest("pos-exact", "1.2.0")).status_code == 201


def test_review_actions_refuse_bad_input_and_hide_what_the_caller_may_not_see(store, platform):
    store.alice.post(VERSIONS, version_manifest("1.0.0"))
    assert_status(_review(store.bob, "pos-1-0-0", "Maybe"), 422, "Invalid", "decision")
    assert_status(store.bob.post(f"{VERSIONS}/pos-1-0-0/review", {"message": "ok"}), 422, "Invalid", "decision")
    assert_status(store.bob.post(f"{VERSIONS}/pos-1-0-0/review", {"decision": "Approve", "extra": 1}), 422,
                  "Invalid", "extra")
    assert_status(store.bob.post(f"{VERSIONS}/pos-1-0-0/deprecate", {"deprecated": "yes"}), 422, "Invalid",
                  "deprecated")
    # a user of another workspace gets 404 for the version, as for one that does not exist
    from tests.support import ApiClient

    outsider = platform.user("olga")
    platform.bind("olga-w3", "workspace-admin", "workspace", "w3", users=("olga",))
    client = ApiClient.for_user(outsider)
    for action, body in (("review", {"decision": "Approve"}), ("deprecate", {"deprecated": True})):
        hidden = assert_status(client.post(f"{VERSIONS}/pos-1-0-0/{action}", body), 404, "NotFound")
        missing = assert_status(client.post(f"{VERSIONS}/nothing/{action}", body), 404, "NotFound")
        assert hidden["message"].replace("pos-1-0-0", "X") == missing["message"].replace("nothing", "X")
    assert ApplicationVersion.objects.get(name="pos-1-0-0").review_phase == "Pending"
    # the anonymous caller is told to authenticate
    assert ApiClient(None).post(f"{VERSIONS}/pos-1-0-0/review", {"decision": "Approve"}).status_code == 401


def test_only_a_spec_change_resubmits_a_version(store):
    submitted = store.alice.post(VERSIONS, version_manifest("2.0.0")).json()["status"]
    # a label change by bob leaves alice the submitter (and the same submitTime)
    labelled = store.bob.patch(f"{VERSIONS}/pos-2-0-0", {"metadata": {"labels": {"channel": "beta"}}}).json()
    assert (labelled["status"]["submitter"], labelled["status"]["submitTime"]) == ("alice", submitted["submitTime"])
    # so bob may still review it; a spec change by bob makes him the submitter, and then he may not
    changed = store.bob.patch(f"{VERSIONS}/pos-2-0-0", {"spec": {"workloadConfig": {"deployments": [
        {"name": "pos", "spec": {"template": {"spec": {"containers": [{"name": "pos", "image": "pos:2.0.1"}]}}}}]}}})
    assert changed.status_code == 200, changed.json()
    assert changed.json()["status"]["submitter"] == "bob"
    assert_status(_review(store.bob, "pos-2-0-0", "Approve"), 403, "Forbidden")
    assert _review(store.alice, "pos-2-0-0", "Approve").status_code == 200
