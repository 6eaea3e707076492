"""The audit log (DESIGN §9): one event per mutation and per denied request, redacted, queryable, exportable.

Tamper detection, retention and concurrent appends are in test_audit_chain.py.
"""
import base64
import csv
import io
import json

import pytest
from celery import shared_task
from django.db import transaction
from django.test import Client

from clusters.manifests import WorkspaceConverter
from edgeplatform.resources import services
from edgeplatform.resources.errors import StatusError
from iam.audit import actor
from iam.audit.models import AuditEvent
from iam.audit.redaction import REDACTED, redact
from tests.support import PASSWORD

EVENTS = "/oapis/iam.theriseunion.io/v1alpha1/auditevents"
WS = "/oapis/scope.theriseunion.io/v1alpha1/workspaces"
CLUSTERS = "/oapis/scope.theriseunion.io/v1alpha1/clusters"
USERS = "/oapis/iam.theriseunion.io/v1alpha1/users"


def mark() -> int:
    """The newest event id so far: events after it are the ones a step made."""
    newest = AuditEvent.objects.order_by("-id").first()
    return newest.id if newest else 0


def since(start: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=start).order_by("id"))


def workspace(name, display="", **metadata):
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Workspace",
            "metadata": {"name": name, "labels": {"scope.theriseunion.io/cluster": "c1"}, **metadata},
            "spec": {"displayName": display} if display else {}}


@pytest.fixture
def root(platform, api):
    platform.cluster("c1")
    return api(platform.user("root", superuser=True))


# --- mutations through the API ------------------------------------------------------------------------------

def test_each_api_mutation_is_exactly_one_event_with_its_diff(root):
    start = mark()
    created = root.post(WS, workspace("w1", "One"))
    assert created.status_code == 201, created.json()
    [event] = since(start)
    assert (event.verb, event.api_group, event.resource, event.kind, event.name, event.actor) == \
        ("create", "scope.theriseunion.io", "workspaces", "Workspace", "w1", "root")
    assert (event.result, event.status_code, event.scope_path) == ("allowed", 201, "clusters/c1/workspaces/w1")
    assert event.before is None and event.after["spec"]["displayName"] == "One"

    start = mark()
    current = root.get(f"{WS}/w1").json()
    current["spec"]["displayName"] = "Uno"
    assert root.put(f"{WS}/w1", current).status_code == 200
    [event] = since(start)
    assert event.verb == "update" and event.status_code == 200
    assert (event.before["spec"]["displayName"], event.after["spec"]["displayName"]) == ("One", "Uno")
    shown = root.get(f"{EVENTS}/{event.id}").json()
    assert "spec.displayName" in shown["spec"]["changes"] and "metadata.resourceVersion" in shown["spec"]["changes"]

    start = mark()
    assert root.patch(f"{WS}/w1", {"spec": {"description": "patched"}}).status_code == 200
    [event] = since(start)
    assert event.verb == "patch" and "description" not in event.before["spec"]
    assert event.after["spec"]["description"] == "patched"

    start = mark()
    assert root.delete(f"{WS}/w1").status_code == 200
    [event] = since(start)
    assert (event.verb, event.name, event.after) == ("delete", "w1", None)
    assert event.before["spec"]["displayName"] == "Uno"


def test_a_request_id_is_taken_from_the_caller_or_made_and_always_returned(root):
    start = mark()
    response = root.client.post(WS, json.dumps(workspace("w2")), content_type="application/json",
                                headers={"X-Request-ID": "trace-42"}, **root.headers)
    assert response.status_code == 201 and response["X-Request-ID"] == "trace-42"
    [event] = since(start)
    assert event.request_id == "trace-42" and event.source_ip == "127.0.0.1"

    response = root.client.get(WS, headers={"User-Agent": "kubectl/1.31"}, **root.headers)
    made = response["X-Request-ID"]
    assert len(made) == 32 and made != "trace-42"


def test_failed_and_rolled_back_writes_leave_no_event(root, platform):
    root.post(WS, workspace("w3"))
    start = mark()
    assert root.post(WS, workspace("w3")).status_code == 409  # already exists
    assert root.post(WS, {**workspace("w4"), "spec": {"displayName": 7 * "x" * 40}}).status_code == 422
    stale = root.get(f"{WS}/w3").json()
    stale["metadata"]["resourceVersion"] = "999"
    assert root.put(f"{WS}/w3", stale).status_code == 409
    with pytest.raises(RuntimeError), transaction.atomic():
        services.save_manifest(WorkspaceConverter(), workspace("w5"))
        raise RuntimeError("the surrounding work failed")
    assert since(start) == []
    assert not WorkspaceConverter.model.objects.filter(name="w5").exists()


# --- secrets -------------------------------------------------------------------------------------------------

def test_cluster_connection_secrets_and_user_passwords_never_reach_the_log(root):
    start = mark()
    cluster = {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
               "metadata": {"name": "edge-1", "annotations": {"example.com/api-token": "tok-IN-ANNOTATION"}},
               "spec": {"type": "physical", "connection": {
                   "type": "direct", "kubernetesAPIEndpoint": "https://10.0.0.1:6443",
                   "kubeconfig": "apiVersion: v1\nusers: [{user: {token: KUBECONFIG-SECRET}}]",
                   "token": "BEARER-SECRET"}}}
    assert root.post(CLUSTERS, cluster).status_code == 201
    user = {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "User", "metadata": {"name": "newbie"},
            "spec": {"email": "n@example.com", "password": "Sup3r-Secret-Pw!"}}
    assert root.post(USERS, user).status_code == 201
    current = root.get(f"{USERS}/newbie").json()
    current["spec"]["password"] = "An0ther-Secret-Pw!"
    assert root.put(f"{USERS}/newbie", current).status_code == 200

    events = since(start)
    assert [(e.verb, e.resource) for e in events] == [("create", "clusters"), ("create", "users"),
                                                      ("update", "users")]
    everything = json.dumps([root.get(f"{EVENTS}/{e.id}").json() for e in events])
    for secret in ("KUBECONFIG-SECRET", "BEARER-SECRET", "tok-IN-ANNOTATION", "Sup3r-Secret-Pw!",
                   "An0ther-Secret-Pw!"):
        assert secret not in everything
    assert events[0].after["metadata"]["annotations"]["example.com/api-token"] == REDACTED
    assert events[0].after["spec"]["connection"]["kubernetesAPIEndpoint"] == "https://10.0.0.1:6443"


def test_one_redaction_rule_for_every_kind_of_secret_field():
    applied = json.dumps({"spec": {"values": {"adminPassword": "p"}}, "metadata": {"name": "x"}})
    manifest = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied}},
                "spec": {"values": {"adminPassword": "p", "auth": {"token": "t", "clientKeyData": "k",
                                                                   "privateKey": "pk", "credentials": {"a": 1}},
                                    "encryptedPassword": "$2a$10$abc", "secretKey": "s"},
                         "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]},
                         "taints": [{"key": "edge", "value": "true", "effect": "NoSchedule"}],
                         "password": ""}}
    out = redact(manifest)
    values = out["spec"]["values"]
    assert values["adminPassword"] == values["encryptedPassword"] == values["secretKey"] == REDACTED
    assert set(values["auth"].values()) == {REDACTED}
    assert out["spec"]["selector"] == manifest["spec"]["selector"]  # a selector's key is not a secret
    assert out["spec"]["taints"] == manifest["spec"]["taints"]
    assert out["spec"]["password"] == ""  # nothing to hide
    embedded = json.loads(out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert embedded["spec"]["values"]["adminPassword"] == REDACTED and embedded["metadata"]["name"] == "x"


# --- denied requests -----------------------------------------------------------------------------------------

def test_a_write_the_engine_refuses_is_one_denied_event(root, platform, api):
    root.post(WS, workspace("w1"))
    platform.user("viewer")
    platform.bind("v", "workspace-viewer", "workspace", "w1", users=("viewer",))
    viewer = api(platform.user("viewer2"))
    viewer_w1 = api(__import__("iam.models", fromlist=["User"]).User.objects.get(name="viewer"))
    start = mark()
    assert viewer_w1.post(WS, workspace("w9")).status_code == 403
    assert viewer_w1.patch(f"{WS}/w1", {"spec": {"displayName": "x"}}).status_code == 403
    events = since(start)
    assert [(e.actor, e.verb, e.resource, e.name, e.result, e.status_code) for e in events] == [
        ("viewer", "create", "workspaces", "w9", "denied", 403),
        ("viewer", "update", "workspaces", "w1", "denied", 403)]
    assert 'cannot create resource "workspaces.scope.theriseunion.io"' in events[0].message
    assert events[0].scope_path == "clusters/c1/workspaces/w9"

    # 404 that hides an existing object is a denial; a 404 for nothing is not
    start = mark()
    assert viewer.get(f"{WS}/w1").status_code == 404
    assert viewer.get(f"{WS}/nothing-here").status_code == 404
    [event] = since(start)
    assert (event.actor, event.verb, event.name, event.result, event.status_code) == \
        ("viewer2", "get", "w1", "denied", 404)


def test_unauthenticated_requests_are_one_denied_event_each(root):
    start = mark()
    assert Client().get(WS).status_code == 401
    response = Client().delete(f"{WS}/w1", HTTP_AUTHORIZATION="Bearer edge_not-a-token")
    assert response.status_code == 401
    events = since(start)
    assert [(e.actor, e.verb, e.resource, e.status_code) for e in events] == [
        ("anonymous", "list", "workspaces", 401), ("anonymous", "delete", "workspaces", 401)]
    assert events[1].request_id == response["X-Request-ID"]


def test_a_refusal_a_surface_turns_into_a_form_error_is_still_recorded_once(platform):
    platform.cluster("c1")
    nobody = platform.user("nobody")
    # a member of the cluster who may not create there (to anyone else, c1 is answered as missing: a 422)
    platform.bind("nobody-c1", "cluster-regular", "cluster", "c1", users=("nobody",))
    start = mark()
    with actor("console-view-of-nobody"):  # as a console view would: catch the 403, show the form again
        for _ in range(2):
            with pytest.raises(StatusError):
                services.save_manifest(WorkspaceConverter(), workspace("w1"), user=nobody)
    [event] = since(start)
    assert (event.actor, event.verb, event.result, event.status_code) == ("nobody", "create", "denied", 403)
    # without any context (a shell) it is written at once
    with pytest.raises(StatusError):
        services.save_manifest(WorkspaceConverter(), workspace("w1"), user=nobody)
    assert len(since(start)) == 2


# --- logins --------------------------------------------------------------------------------------------------

def test_failed_logins_lockout_and_unlock_are_recorded(platform):
    platform.user("ann")
    start = mark()
    response = Client().post("/oauth/token", {"grant_type": "password", "username": "ann", "password": "nope"},
                             HTTP_USER_AGENT="curl/8")
    assert response.status_code in (400, 401)
    [event] = since(start)
    assert (event.verb, event.actor, event.name, event.result, event.user_agent) == \
        ("login_failed", "ann", "ann", "denied", "curl/8")
    assert "nope" not in json.dumps(event.__dict__, default=str)

    from django.conf import settings

    try:
        from iam import lockout
    except ImportError:
        pytest.skip("no lockout module")
    for _ in range(settings.EDGE_LOCKOUT_FAILURES):
        Client().post("/oauth/token", {"grant_type": "password", "username": "ann", "password": "nope"})
    events = since(start)
    assert [e.verb for e in events].count("lockout") == 1
    refused = events[-1]  # the attempt after the lock: refused whatever the password
    assert (refused.verb, refused.status_code, refused.message) == ("login_failed", 429, "the account is locked")
    lockout.unlock("ann", actor=platform.user("admin", superuser=True))
    unlock = since(start)[-1]
    assert (unlock.verb, unlock.actor, unlock.name) == ("unlock", "admin", "ann")


def test_a_console_login_and_logout_are_recorded(platform):
    """GIVEN a user WHEN they sign in through the console's form and sign out THEN each is one event."""
    platform.user("sam")
    browser = Client(HTTP_USER_AGENT="Firefox")
    start = mark()
    response = browser.post("/console/login/", {"username": "sam", "password": PASSWORD, "next": "/console/"})
    assert response.status_code == 302, response.content.decode()[-500:]
    assert browser.post("/console/logout/").status_code in (200, 302)
    events = since(start)
    assert [(e.verb, e.actor, e.result, e.user_agent) for e in events] == [
        ("login", "sam", "allowed", "Firefox"), ("logout", "sam", "allowed", "Firefox")]
    assert events[0].source_ip == "127.0.0.1"


# --- background work -----------------------------------------------------------------------------------------

@shared_task(name="tests.audit.rename_workspace")
def rename_workspace(name: str, display: str) -> None:
    """A background task writing through the one write path, as the system."""
    converter = WorkspaceConverter()
    current = converter.lookup(name)
    services.save_manifest(converter, workspace(name, display), instance=current)


def test_background_work_is_the_system_named_after_its_task(root):
    root.post(WS, workspace("w1"))
    start = mark()
    result = rename_workspace.apply(args=("w1", "Renamed"))
    assert result.successful(), result.traceback
    [event] = since(start)
    assert (event.actor, event.verb, event.name) == ("system:tests.audit.rename_workspace", "update", "w1")
    assert event.request_id == result.id and event.after["spec"]["displayName"] == "Renamed"


def test_what_a_write_does_besides_itself_is_audited_too(platform, api):
    """GIVEN a cluster admin (not a superuser) WHEN they create a workspace THEN the admin binding the platform
    makes for them is an event of its own; WHEN the workspace goes THEN so do its bindings, each an event, and
    its namespaces are released (their label dropped) — each an event."""
    platform.cluster("c1")
    boss = api(platform.user("boss"))
    platform.bind("boss-c1", "cluster-admin", "cluster", "c1", users=("boss",))
    start = mark()
    assert boss.post(WS, workspace("w1")).status_code == 201
    made = sorted((e.actor, e.verb, e.kind) for e in since(start))
    assert made == [("boss", "create", "IAMRoleBinding"), ("boss", "create", "Workspace")]
    binding = next(e for e in since(start) if e.kind == "IAMRoleBinding")
    assert binding.after["spec"]["subjects"][0]["name"] == "boss" and binding.name.startswith("w1-workspace-admin-")
    platform.namespace("n1", "c1", "w1")
    start = mark()
    assert boss.delete(f"{WS}/w1").status_code == 200
    gone = sorted((e.actor, e.verb, e.kind, e.name) for e in since(start))
    assert gone == sorted([("boss", "delete", "Workspace", "w1"), ("boss", "delete", "IAMRoleBinding", binding.name),
                           ("boss", "update", "Namespace", "n1")])
    released = next(e for e in since(start) if e.kind == "Namespace")
    assert "theriseunion.io/workspace" in released.before["metadata"]["labels"]
    assert "theriseunion.io/workspace" not in released.after["metadata"].get("labels", {})


def test_deleting_a_cluster_deletes_its_contents_one_event_each(root, platform):
    platform.workspace("w1", "c1")
    platform.nodegroup("g1", "c1")
    platform.namespace("n1", "c1", "w1")
    platform.node("x1", "c1", "g1")
    platform.bind("b-w1", "workspace-viewer", "workspace", "w1", users=("root",))
    start = mark()
    assert root.delete(f"{CLUSTERS}/c1").status_code == 200
    gone = sorted((e.verb, e.kind, e.name) for e in since(start))
    assert gone == [("delete", "Cluster", "c1"), ("delete", "IAMRoleBinding", "b-w1"), ("delete", "Namespace", "n1"),
                    ("delete", "Node", "x1"), ("delete", "NodeGroup", "g1"), ("delete", "Workspace", "w1")]


# --- reading the log -----------------------------------------------------------------------------------------

@pytest.fixture
def history(root, platform, api):
    """root creates w1, w2, updates w1; bob is refused a create."""
    for name in ("w1", "w2"):
        root.post(WS, workspace(name))
    root.patch(f"{WS}/w1", {"spec": {"displayName": "W one"}})
    bob = api(platform.user("bob"))
    platform.bind("bob-c1", "cluster-regular", "cluster", "c1", users=("bob",))
    assert bob.post(WS, workspace("w7")).status_code == 403
    return bob


def test_queries_filter_by_user_resource_verb_and_time_newest_first(root, history):
    def names(url):
        body = root.get(url).json()
        assert body["kind"] == "AuditEventList", body
        return [(i["spec"]["user"]["username"], i["spec"]["verb"], i["spec"]["objectRef"]["name"])
                for i in body["items"]]

    assert names(f"{EVENTS}?resource=workspaces") == [
        ("bob", "create", "w7"), ("root", "patch", "w1"), ("root", "create", "w2"), ("root", "create", "w1")]
    assert names(f"{EVENTS}?resource=workspaces/w1") == [("root", "patch", "w1"), ("root", "create", "w1")]
    assert names(f"{EVENTS}?resource=workspaces.scope.theriseunion.io/w2&verb=create") == [
        ("root", "create", "w2")]
    bob_token = AuditEvent.objects.get(actor="bob", verb="token_issue").name  # bob's client logging in
    assert names(f"{EVENTS}?user=bob") == [("bob", "create", "w7"), ("bob", "token_issue", bob_token)]
    assert names(f"{EVENTS}?resource=Workspace&verb=patch,create&result=denied") == [("bob", "create", "w7")]
    w2 = AuditEvent.objects.get(resource="workspaces", name="w2")
    stamp = w2.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    assert names(f"{EVENTS}?resource=workspaces&since={stamp}".replace("+", "%2B")) == [
        ("bob", "create", "w7"), ("root", "patch", "w1"), ("root", "create", "w2")]
    assert names(f"{EVENTS}?resource=workspaces&until={stamp.replace('+00:00', 'Z')}") == [
        ("root", "create", "w1")]

    first = root.get(f"{EVENTS}?resource=workspaces&limit=3").json()
    assert len(first["items"]) == 3 and first["metadata"]["remainingItemCount"] == 1
    rest = root.get(f"{EVENTS}?resource=workspaces&limit=3&continue={first['metadata']['continue']}").json()
    assert [i["spec"]["objectRef"]["name"] for i in rest["items"]] == ["w1"] and "continue" not in rest["metadata"]


@pytest.mark.parametrize("query, field", [
    ("since=yesterday", "since"), ("until=2026-13-01T00:00:00Z", "until"), ("verb=frobnicate", "verb"),
    ("result=maybe", "result"), ("limit=0", "limit"), ("continue=garbage", "continue"), ("format=xml", "format"),
    ("since=2026-02-01&until=2026-01-01", "until"),
])
def test_bad_query_values_are_a_400_naming_the_parameter(root, query, field):
    response = root.get(f"{EVENTS}?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["kind"] == "Status" and body["details"]["causes"][0]["field"] == field


def _continue(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


OUT_OF_RANGE = "is out of range: times must fall within the years 1 to 9999 UTC"
NOT_OURS = "not a token this server issued"


@pytest.mark.parametrize("query, field, message", [
    ("since=0001-01-01T00:00:00%2B14:00", "since", f"'0001-01-01T00:00:00+14:00' {OUT_OF_RANGE}"),
    ("until=9999-12-31T23:00:00-14:00", "until", f"'9999-12-31T23:00:00-14:00' {OUT_OF_RANGE}"),
    ("since=2026-01-01T00:00:00%2B24:00", "since",
     "'2026-01-01T00:00:00+24:00' is not an RFC 3339 time such as 2026-01-31T12:00:00Z"),
    ("since=%00", "since", "NUL characters are not allowed"),
    ("user=ro%00ot", "user", "NUL characters are not allowed"),
    ("resource=workspaces/w%001", "resource", "NUL characters are not allowed"),
    ("verb=create%00", "verb", "NUL characters are not allowed"),
    ("continue=" + _continue(b'["audit",1e999]'), "continue", NOT_OURS),
    ("continue=" + _continue(b'["audit",1.5]'), "continue", NOT_OURS),
    ("continue=" + _continue(b'["audit",true]'), "continue", NOT_OURS),
    ("continue=" + _continue(b'["audit",-1]'), "continue", NOT_OURS),
    ("continue=" + _continue(b'["audit",9223372036854775808]'), "continue", NOT_OURS),
    ("continue=" + _continue(b'["audit","7"]'), "continue", NOT_OURS),
    ("continue=" + _continue(b'[' * 5000), "continue", NOT_OURS),
    ("continue=" + _continue(b'\xff\xfe'), "continue", NOT_OURS),
])
def test_out_of_range_or_malformed_query_values_are_a_400_status_naming_the_parameter(root, query, field, message):
    """GIVEN a time whose UTC instant is outside datetime's years, a NUL, or a continue token holding a number
    that is no event id WHEN the log is queried THEN the answer is exactly a 400 Status naming the parameter."""
    response = root.get(f"{EVENTS}?{query}")

    assert response.status_code == 400, response.content
    assert response.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": f"{field}: {message}", "reason": "BadRequest", "code": 400,
                               "details": {"causes": [{"reason": "FieldValueInvalid", "message": message,
                                                       "field": field}]}}


def test_times_at_the_edges_of_the_range_are_accepted_in_utc(root, history):
    """GIVEN a since whose offset puts it exactly at the first instant of year 1 UTC, and an until at the last
    whole second of 9999 THEN every event is listed."""
    everything = [i["metadata"]["name"] for i in root.get(f"{EVENTS}?limit=5000").json()["items"]]

    bounded = root.get(f"{EVENTS}?limit=5000&since=0001-01-01T14:00:00%2B14:00&until=9999-12-31T09:59:59-14:00")

    assert bounded.status_code == 200, bounded.content
    assert [i["metadata"]["name"] for i in bounded.json()["items"]] == everything and everything


def test_audit_readers_see_everything_others_only_their_own(root, history, platform, api):
    auditor = api(platform.user("auditor"))
    platform.bind("audit", "platform-admin", "platform", "global", users=("auditor",))
    everyone = {i["spec"]["user"]["username"] for i in auditor.get(EVENTS).json()["items"]}
    assert {"root", "bob", "system"} <= everyone
    assert {i["spec"]["user"]["username"] for i in history.get(EVENTS).json()["items"]} == {"bob"}
    assert history.get(f"{EVENTS}?user=root").json()["items"] == []
    root_event = AuditEvent.objects.filter(actor="root").first()
    assert history.get(f"{EVENTS}/{root_event.id}").status_code == 404
    assert Client().get(EVENTS).status_code == 401


@pytest.mark.django_db
def test_platform_admins_get_the_view_audit_template():
    from iam.models import IAMRole, RoleTemplate

    template = RoleTemplate.objects.get(name="platform-view-audit")
    assert template.spec["rules"] == [{"apiGroups": ["iam.theriseunion.io"], "resources": ["auditevents"],
                                       "verbs": ["get", "list"]}]
    assert "platform-view-audit" in IAMRole.objects.get(name="platform-admin").spec["aggregatedRoleTemplates"]


def test_export_streams_csv_and_json_lines(root, history):
    response = root.get(f"{EVENTS}?resource=workspaces&format=csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["user"], r["verb"], r["name"], r["result"]) for r in rows] == [
        ("bob", "create", "w7", "denied"), ("root", "patch", "w1", "allowed"), ("root", "create", "w2", "allowed"),
        ("root", "create", "w1", "allowed")]
    assert json.loads(rows[1]["after"])["spec"]["displayName"] == "W one" and "spec.displayName" in rows[1]["changes"]

    response = root.client.get(f"{EVENTS}?resource=workspaces", HTTP_ACCEPT="application/jsonl", **root.headers)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/jsonl")
    lines = b"".join(response.streaming_content).decode().splitlines()
    manifests = [json.loads(line) for line in lines]
    assert [m["kind"] for m in manifests] == ["AuditEvent"] * 4
    assert [m["spec"]["objectRef"]["name"] for m in manifests] == ["w7", "w1", "w2", "w1"]
    assert history.get(f"{EVENTS}?format=jsonl").status_code == 200
    own = b"".join(history.get(f"{EVENTS}?format=jsonl").streaming_content).decode().splitlines()
    assert {json.loads(line)["spec"]["user"]["username"] for line in own} == {"bob"}


def test_passwords_typed_at_login_never_reach_the_log(platform):
    platform.user("pat")
    Client().post("/oauth/token", {"grant_type": "password", "username": "pat", "password": PASSWORD + "x"})
    assert not AuditEvent.objects.filter(message__contains=PASSWORD).exists()


def test_a_deleted_user_leaves_their_bindings_and_a_namesake_inherits_nothing(root, platform):
    """GIVEN bob bound alone and beside carl WHEN bob is deleted THEN his lone binding goes, the shared one keeps
    carl, each change an event; a new user named bob holds nothing."""
    from iam.models import IAMRoleBinding, User

    ws = platform.workspace("w1", "c1")
    platform.user("bob")
    platform.user("carl")
    platform.bind("bob-alone", "workspace-viewer", "workspace", "w1", users=("bob",))
    platform.bind("shared", "workspace-admin", "workspace", "w1", users=("bob", "carl"))
    assert User.objects.get(name="bob").has_perm("get:scope.theriseunion.io/workspaces", ws)
    start = mark()
    assert root.delete(f"{USERS}/bob").status_code == 200
    assert sorted((e.verb, e.kind, e.name) for e in since(start)) == [
        ("delete", "IAMRoleBinding", "bob-alone"), ("delete", "User", "bob"), ("update", "IAMRoleBinding", "shared")]
    assert [s["name"] for s in IAMRoleBinding.objects.get(name="shared").spec["subjects"]] == ["carl"]
    namesake = platform.user("bob")
    assert not User.objects.get(pk=namesake.pk).has_perm("get:scope.theriseunion.io/workspaces", ws)
    assert not IAMRoleBinding.objects.filter(subject_rows__name="bob").exists()


LOCKOUTS = "/oapis/iam.theriseunion.io/v1alpha1/lockouts"


@pytest.mark.parametrize("name, recorded", [("a%00b", "a\ufffdb"), ("x" * 300, "x" * 253)])
def test_a_refused_request_naming_what_no_column_can_hold_is_still_recorded(root, platform, api, name, recorded):
    """GIVEN a user who may not unlock accounts WHEN they ask to unlock a name with a NUL, or one longer than the
    log's name column THEN they get the 403, and the denial is in the log with the name as it can be stored."""
    nobody = api(platform.user("nobody"))
    start = mark()

    response = nobody.delete(f"{LOCKOUTS}/{name}")

    assert response.status_code == 403 and response.json()["reason"] == "Forbidden"
    [event] = since(start)
    assert (event.actor, event.verb, event.result, event.resource, event.name) == (
        "nobody", "delete", "denied", "lockouts", recorded)
    assert "\x00" not in event.path and "\x00" not in event.message


@pytest.mark.parametrize("url", [f"{LOCKOUTS}/a%00b", f"{USERS}/a%00b/tokens", f"{USERS}/a%00b/tokens/1"])
def test_a_user_name_holding_nul_is_not_found(root, url):
    method = root.delete if url.startswith(LOCKOUTS) or url.endswith("/1") else root.get

    response = method(url)

    assert response.status_code == 404, response.content
    assert response.json()["reason"] == "NotFound" and response.json()["details"]["name"] == "a\x00b"


@pytest.mark.parametrize("query, accept", [("format=csv&since=yesterday", "*/*"), ("since=yesterday", "text/csv"),
                                           ("format=jsonl&limit=0", "*/*")])
def test_an_export_that_fails_answers_a_json_status(root, query, accept):
    """GIVEN an export asked for as CSV or JSON lines WHEN a parameter is wrong THEN the 400 Status is JSON and says
    so in its Content-Type."""
    response = root.client.get(f"{EVENTS}?{query}", HTTP_ACCEPT=accept, **root.headers)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["kind"] == "Status" and response.json()["reason"] == "BadRequest"


def test_a_refusal_with_nul_in_its_headers_is_recorded(root, settings):
    """GIVEN a trusted proxy WHEN a request without credentials carries NUL in its User-Agent and forwarded address
    THEN it is refused and recorded, each NUL shown as U+FFFD."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    start = mark()

    response = Client().get(USERS, HTTP_USER_AGENT="probe\x00/1", HTTP_X_FORWARDED_FOR="10.0.0.1\x00")

    assert response.status_code == 401
    [event] = since(start)
    assert (event.result, event.user_agent, event.source_ip) == ("denied", "probe\ufffd/1", "10.0.0.1\ufffd")
