"""Two-way CRD sync against an emulated host cluster: platform saves become custom resources, kubectl/GitOps
changes of custom resources come back through the write path as ``system:kubewatch``, and nothing ping-pongs."""
from __future__ import annotations

import threading
import time

import pytest
from django.core.management import call_command
from django.test import override_settings

from clusters.manifests import WorkspaceConverter
from clusters.models import Workspace
from edgeplatform import kube as gateway
from edgeplatform.kube import crds
from edgeplatform.kube.sync import HASH_ANNOTATION, UID_ANNOTATION, content_hash
from edgeplatform.kube.watch import Watcher
from iam.audit.models import AuditEvent

API = "/oapis/scope.theriseunion.io/v1alpha1/workspaces"
SCOPE_API = "scope.theriseunion.io/v1alpha1"
FAST = {"EDGE_KUBE_RETRIES": 2, "EDGE_KUBE_BACKOFF": 0.01, "EDGE_KUBE_BACKOFF_MAX": 0.05}


def workspace(name: str, display: str = "", cluster: str = "edge", **spec) -> dict:
    """A Workspace manifest as kubectl users write it."""
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Workspace",
            "metadata": {"name": name, "labels": {"scope.theriseunion.io/cluster": cluster}},
            "spec": {"displayName": display, **spec} if display else dict(spec)}


@pytest.fixture
def site(platform):
    platform.cluster("edge")
    return platform


@pytest.fixture(autouse=True)
def _sync_alone():
    """The sync on its own: the workspace controller, which writes a new workspace's status at once, is not
    triggered here (its own tests cover it, the sync of its status writes included)."""
    from clusters import workspaces
    from edgeplatform.resources.services import object_saved

    object_saved.disconnect(dispatch_uid="clusters-workspaces-enqueue")
    yield
    workspaces.connect()


@pytest.fixture
def admin(site, api):
    return api(site.user("root", superuser=True))


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed():`` runs the after-commit hooks (the sync tasks, eagerly) of the block's writes."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def cr(kube, name):
    return kube.object("workspaces", name, group="scope.theriseunion.io")


def watcher(host, timeout=0.5) -> Watcher:
    return Watcher(host, [WorkspaceConverter()], timeout_seconds=timeout, backoff=0.01, backoff_max=0.05)


def sync_hooks(callbacks) -> list:
    """The after-commit hooks the CRD sync queued."""
    return [c for c in callbacks if c.__qualname__.startswith("_on_change.")]


def kubectl_events(name: str):
    return AuditEvent.objects.filter(actor="system:kubewatch", name=name)


def test_a_platform_change_shows_up_as_a_custom_resource(kube, host, admin, committed):
    # GIVEN a workspace created through the API
    with committed() as callbacks:
        assert admin.post(API, workspace("shop", "Shop")).status_code == 201
    assert len(sync_hooks(callbacks)) == 1
    row = Workspace.objects.get(name="shop")
    # THEN its custom resource exists, applied by the platform, annotated with hash and uid
    stored = cr(kube, "shop")
    assert stored["spec"] == {"displayName": "Shop"}
    assert stored["metadata"]["labels"] == {"scope.theriseunion.io/cluster": "edge"}
    annotations = stored["metadata"]["annotations"]
    assert annotations[UID_ANNOTATION] == str(row.uid)
    assert annotations[HASH_ANNOTATION] == content_hash(stored)
    assert {m["manager"] for m in stored["metadata"]["managedFields"]} == {"edge-platform"}
    # WHEN its status changes in the platform and it is saved again, THEN spec and status follow
    Workspace.objects.filter(pk=row.pk).update(status={"phase": "Active", "namespaceCount": 2})
    with committed():
        body = admin.get(f"{API}/shop").json()
        body["spec"]["manager"] = "alice"
        assert admin.put(f"{API}/shop", body).status_code == 200
    stored = cr(kube, "shop")
    assert stored["spec"] == {"displayName": "Shop", "manager": "alice"}
    assert stored["status"] == {"phase": "Active", "namespaceCount": 2}
    # WHEN it is deleted in the platform, THEN the custom resource is deleted
    with committed():
        assert admin.delete(f"{API}/shop").status_code in (200, 204)
    assert cr(kube, "shop") is None


def test_the_sync_task_is_idempotent_and_level_based(kube, host, site, committed):
    from edgeplatform.kube.tasks import sync_object

    with committed():
        site.workspace("line", "edge")
    Workspace.objects.filter(name="line").update(status={"phase": "Active"})
    kube.requests.clear()
    assert sync_object("Workspace", "line") == "applied"
    first = cr(kube, "line")
    assert first["status"] == {"phase": "Active"}
    assert sync_object("Workspace", "line") == "applied"
    # level-based: read, compare, write only what differs — here the status alone, once; then nothing
    assert cr(kube, "line")["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert kube.requests.count(method="GET") == 2
    assert kube.requests.count_writes() == 1 and kube.requests.count(method="PATCH") == 1
    Workspace.objects.filter(name="line").delete()  # gone from the database behind the write path's back
    assert sync_object("Workspace", "line") == "deleted"
    assert sync_object("Workspace", "line") == "absent"


def test_sync_is_off_without_a_host_cluster(site, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with override_settings(EDGE_KUBECONFIG=""), django_capture_on_commit_callbacks(execute=False) as callbacks:
        site.workspace("quiet", "edge")
    assert sync_hooks(callbacks) == []
    out = __import__("io").StringIO()
    with override_settings(EDGE_KUBECONFIG=""):
        call_command("kubewatch", stdout=out)
    assert "CRD sync is off" in out.getvalue()


def test_a_kubectl_apply_shows_up_in_the_platform_and_its_audit_log(kube, host, admin, committed):
    with committed():
        assert admin.post(API, workspace("shop", "Shop")).status_code == 201
    w = watcher(host)
    with committed():
        w.run_once()  # initial list: the custom resource is the platform's own
    assert w.stats.saved == 0
    # WHEN someone changes the custom resource with kubectl (another field manager) and creates another
    gateway.apply(host, workspace("shop", "Shop floor", manager="bob"), field_manager="kubectl")
    gateway.apply(host, workspace("store", "Store"), field_manager="kubectl")
    with committed():
        w.run_once()
    # THEN the platform has the changes, made by the sync
    assert Workspace.objects.get(name="shop").spec == {"displayName": "Shop floor", "manager": "bob"}
    assert Workspace.objects.get(name="store").spec == {"displayName": "Store"}
    assert admin.get(f"{API}/shop").json()["spec"]["manager"] == "bob"
    events = {(e.verb, e.name) for e in AuditEvent.objects.filter(actor="system:kubewatch")}
    assert events == {("update", "shop"), ("create", "store")}
    update = kubectl_events("shop").get()
    assert update.before["spec"]["displayName"] == "Shop" and update.after["spec"]["displayName"] == "Shop floor"
    # and the custom resources now carry the platform's hash of the new state
    assert cr(kube, "store")["metadata"]["annotations"][HASH_ANNOTATION] == content_hash(cr(kube, "store"))
    # WHEN it is deleted with kubectl, THEN the row goes too
    gateway.ensure_absent(host, "scope.theriseunion.io/v1alpha1", "Workspace", "store")
    with committed():
        w.run_once()
    assert not Workspace.objects.filter(name="store").exists()
    assert kubectl_events("store").filter(verb="delete").count() == 1


def test_a_field_kubectl_set_and_the_platform_removed_stays_removed(kube, host, admin, committed):
    # GIVEN a field set with kubectl and brought in by the watcher (kubectl and the platform now both own it)
    with committed():
        assert admin.post(API, workspace("shop", "Shop")).status_code == 201
    w = watcher(host)
    with committed():
        w.run_once()
    gateway.apply(host, workspace("shop", "Shop", manager="bob"), field_manager="kubectl")
    with committed():
        w.run_once()
    assert Workspace.objects.get(name="shop").spec["manager"] == "bob"
    # WHEN an admin removes it in the platform
    with committed():
        body = admin.get(f"{API}/shop").json()
        del body["spec"]["manager"]
        assert admin.put(f"{API}/shop", body).status_code == 200
    # THEN the custom resource loses it too, and the watcher does not bring it back
    assert "manager" not in cr(kube, "shop")["spec"]
    with committed():
        w.run_once()
    assert "manager" not in Workspace.objects.get(name="shop").spec
    assert kubectl_events("shop").count() == 1  # only kubectl's change came in


def test_no_ping_pong(kube, host, admin, committed):
    # GIVEN a platform save, synced out, and a watcher that has seen it
    with committed():
        assert admin.post(API, workspace("shop", "Shop")).status_code == 201
    w = watcher(host)
    with committed():
        w.run_once()
    row = Workspace.objects.get(name="shop")
    # WHEN the platform saves again and the watcher sees its own apply
    with committed():
        body = admin.get(f"{API}/shop").json()
        body["spec"]["manager"] = "alice"
        assert admin.put(f"{API}/shop", body).status_code == 200
    kube.requests.clear()
    with committed():
        w.run_once()
        w.run_once()
    # THEN nothing is written anywhere
    assert kube.requests.count_writes() == 0
    assert Workspace.objects.get(name="shop").resource_version == row.resource_version + 1
    # WHEN kubectl changes it: one save in the platform, one re-apply of the hash, then quiet
    gateway.apply(host, workspace("shop", "Shop", manager="bob"), field_manager="kubectl")
    kube.requests.clear()
    with committed():
        w.run_once()
    assert w.stats.saved == 1
    assert kube.requests.count_writes() == 1
    kube.requests.clear()
    with committed():
        w.run_once()
        w.run_once()
    assert kube.requests.count_writes() == 0
    assert w.stats.saved == 1


def test_a_dropped_watch_resumes_without_losing_an_event(kube, host, site, committed):
    with committed():
        site.workspace("shop", "edge")
    w = watcher(host, timeout=5)
    w.relist(w.kinds["Workspace"])

    def cluster_side():  # kubectl changes, a dropped connection, and a change made while disconnected
        time.sleep(0.3)
        gateway.apply(host, workspace("shop", "One"), field_manager="kubectl")
        time.sleep(0.4)
        kube.drop_watches(abrupt=True)
        time.sleep(0.1)
        gateway.apply(host, workspace("shop", "Two"), field_manager="kubectl")

    other = threading.Thread(target=cluster_side)
    other.start()
    started = time.monotonic()
    with committed():
        w.step("Workspace")  # returns when the watch is cut
    assert time.monotonic() - started < 4
    other.join()
    assert w.stats.reconnects == 1
    assert Workspace.objects.get(name="shop").spec == {"displayName": "One"}
    w.timeout_seconds = 0.5
    with committed():
        w.step("Workspace")  # resumes from the last resourceVersion: the change made meanwhile arrives
    assert Workspace.objects.get(name="shop").spec == {"displayName": "Two"}
    assert w.stats.relists == 1  # resumed, not relisted
    assert [e.after["spec"]["displayName"] for e in kubectl_events("shop").order_by("id")] == ["One", "Two"]


def test_410_gone_relists_and_catches_deletes_made_while_away(kube, host, site, committed):
    with committed():
        site.workspace("keep", "edge")
        site.workspace("gone", "edge")
    w = watcher(host)
    with committed():
        w.run_once()
    assert set(w.kinds["Workspace"].known) == {"keep", "gone"}
    # WHILE the watcher is away, a custom resource is deleted and the server forgets its history
    gateway.ensure_absent(host, "scope.theriseunion.io/v1alpha1", "Workspace", "gone")
    gateway.apply(host, workspace("keep", "Changed"), field_manager="kubectl")
    kube.compact()
    with committed():
        w.run_once()  # 410 Gone
    assert not w.kinds["Workspace"].listed
    with committed():
        w.run_once()  # relist and reconcile
    assert w.stats.relists == 2
    assert not Workspace.objects.filter(name="gone").exists()
    assert Workspace.objects.get(name="keep").spec == {"displayName": "Changed"}
    assert kubectl_events("gone").get().verb == "delete"


def test_a_bad_custom_resource_is_recorded_and_does_not_stop_the_watcher(kube, host, site, committed):
    w = watcher(host)
    with committed():
        w.run_once()
    gateway.apply(host, workspace("orphan", "No cluster", cluster="nowhere"), field_manager="kubectl")
    gateway.apply(host, workspace("fine", "Fine"), field_manager="kubectl")
    with committed():
        w.run_once()
    assert not Workspace.objects.filter(name="orphan").exists()
    assert Workspace.objects.filter(name="fine").exists()
    error = kubectl_events("orphan").get()
    assert (error.verb, error.result, error.status_code) == ("create", "error", 422)
    assert "scope.theriseunion.io/cluster" in error.message and "nowhere" in error.message
    # seen again on a relist: not recorded twice
    w.kinds["Workspace"].listed = False
    with committed():
        w.run_once()
    assert kubectl_events("orphan").count() == 1


def test_start_up_applies_rows_that_have_no_custom_resource(kube, host, site):
    site.workspace("early", "edge")  # not committed: no after-commit sync, as if sync had been off
    assert cr(kube, "early") is None
    w = watcher(host)
    w.run_once()
    assert w.stats.applied == 1
    assert cr(kube, "early")["metadata"]["annotations"][UID_ANNOTATION] == str(Workspace.objects.get(name="early").uid)


def test_a_row_the_cluster_refuses_at_start_up_does_not_stop_the_kind_being_watched(kube, host, site):
    from iam.audit.models import AuditEvent

    for name in ("first", "second", "third"):
        site.workspace(name, "edge")  # not committed: as if sync had been off
    kube.fail_next(1, status=422, method="PATCH", path_contains="/second")
    w = watcher(host)
    w.run_once()
    assert w.stats.applied == 2 and cr(kube, "second") is None
    assert kube.requests.count(verb="watch") >= 1  # the kind went on to be watched
    event = AuditEvent.objects.get(name="second", result="error")
    assert (event.actor, event.status_code) == ("system:kubewatch", 422)


def test_kubewatch_command_runs_one_round(kube, host, site):
    import io

    gateway.apply(host, workspace("cli", "From kubectl"), field_manager="kubectl")
    out = io.StringIO()
    call_command("kubewatch", "--once", "--kind", "Workspace", "--timeout", "1", stdout=out)
    assert Workspace.objects.get(name="cli").spec == {"displayName": "From kubectl"}
    assert "watching Workspace" in out.getvalue()


@pytest.mark.realcluster
def test_two_way_sync_on_a_real_cluster(kube, host, site, committed):
    """Against EDGE_TEST_KUBECONFIG. The watcher removes custom resources the platform wrote whose rows are gone:
    on a cluster that already holds another platform's Workspaces it would remove those, so it refuses to run."""
    name = "edge-synctest"
    theirs = [cr["metadata"]["name"] for cr in gateway.list_objects(host, "scope.theriseunion.io/v1alpha1",
                                                                    "Workspace")
              if UID_ANNOTATION in (cr["metadata"].get("annotations") or {}) and cr["metadata"]["name"] != name]
    if theirs:
        pytest.skip(f"the cluster holds Workspaces another platform wrote ({', '.join(theirs[:3])}, …): "
                    "use a cluster of its own for this test")
    try:
        with committed():
            site.workspace(name, "edge")
        stored = gateway.get(host, "scope.theriseunion.io/v1alpha1", "Workspace", name)
        assert stored["metadata"]["annotations"][HASH_ANNOTATION] == content_hash(stored)
        w = Watcher(host, [WorkspaceConverter()], timeout_seconds=2)
        with committed():
            w.run_once()
        gateway.apply(host, workspace(name, "Changed"), field_manager="kubectl")
        with committed():
            w.run_once()
        assert Workspace.objects.get(name=name).spec == {"displayName": "Changed"}
    finally:
        gateway.ensure_absent(host, "scope.theriseunion.io/v1alpha1", "Workspace", name)


def test_the_resync_brings_derived_status_out_and_leaves_cluster_changes_to_the_watcher(kube, host, site, committed):
    from edgeplatform.kube.sync import resync

    # GIVEN a role and a workspace synced out, then a binding (which changes the role's memberCount, a status
    # no save of the role announces)
    with committed():
        site.apply({"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "IAMRole",
                    "metadata": {"name": "ops", "labels": {"iam.theriseunion.io/scope": "cluster"}}, "spec": {}})
        site.workspace("line", "edge")
    with committed():
        site.user("ann")
        site.bind("ann-ops", "ops", "cluster", "edge", users=("ann",))
    role = kube.object("iamroles", "ops", group="iam.theriseunion.io")
    assert (role.get("status") or {}).get("memberCount", 0) == 0
    # and a kubectl change of the workspace the watcher has not brought in yet
    gateway.apply(host, workspace("line", "Line", manager="bob"), field_manager="kubectl")
    # WHEN the resync runs
    stats = resync(host)
    # THEN the role's status is current, and the workspace keeps kubectl's change (the watcher's to bring in)
    assert kube.object("iamroles", "ops", group="iam.theriseunion.io")["status"]["memberCount"] == 1
    assert cr(kube, "line")["spec"]["manager"] == "bob"
    assert stats["pending"] == 1 and stats["applied"] >= 1
    # and a second resync writes nothing at all
    kube.requests.clear()
    again = resync(host)
    assert kube.requests.count_writes() == 0 and again["applied"] == 0 and again["pending"] == 1


IAM = "iam.theriseunion.io/v1alpha1"
RULES = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
KUBECTL_MANIFESTS = {
    "Cluster": {"apiVersion": SCOPE_API, "metadata": {"name": "plant-2"}, "spec": {"type": "physical"}},
    "NodeGroup": {"apiVersion": SCOPE_API, "metadata": {"name": "line-a", "labels": {
        "scope.theriseunion.io/cluster": "edge"}}, "spec": {"selector": {"matchLabels": {"line": "a"}}}},
    "User": {"apiVersion": IAM, "metadata": {"name": "dora"}, "spec": {"email": "dora@example.com"}},
    "Category": {"apiVersion": IAM, "metadata": {"name": "tools"}, "spec": {"displayName": {"en": "Tools"}}},
    "RoleTemplate": {"apiVersion": IAM, "metadata": {"name": "read-pods", "labels": {
        "iam.theriseunion.io/scope": "cluster"}}, "spec": {"rules": RULES}},
    "IAMRole": {"apiVersion": IAM, "metadata": {"name": "pod-reader", "labels": {
        "iam.theriseunion.io/scope": "cluster"}}, "spec": {"rules": RULES}},
    "IAMRoleBinding": {"apiVersion": IAM, "metadata": {"name": "dora-edge", "labels": {
        "iam.theriseunion.io/scope": "cluster", "iam.theriseunion.io/scope-value": "edge"}},
        "spec": {"roleRef": {"apiGroup": "iam.theriseunion.io", "kind": "IAMRole", "name": "cluster-viewer"},
                 "subjects": [{"kind": "User", "name": "dora", "apiGroup": "iam.theriseunion.io"}]}},
}


@pytest.mark.parametrize("kind", sorted(KUBECTL_MANIFESTS))
def test_every_kind_comes_in_from_kubectl_and_goes_with_it(kube, host, site, committed, kind):
    """GIVEN a watcher of one kind WHEN kubectl creates, changes and deletes one of it THEN the platform follows,
    each step one event of the sync."""
    converter = next(c for c in crds.crd_kinds() if c.kind == kind)
    manifest = {**KUBECTL_MANIFESTS[kind], "kind": kind}
    name = manifest["metadata"]["name"]
    w = Watcher(host, [converter], timeout_seconds=0.5, backoff=0.01, backoff_max=0.05)
    with committed():
        w.run_once()
    gateway.apply(host, manifest, field_manager="kubectl")
    with committed():
        w.run_once()
    row = converter.lookup(name)
    assert row is not None, f"{kind} {name} did not come in"
    assert row.labels == manifest["metadata"].get("labels", {})
    gateway.apply(host, {**manifest, "metadata": {**manifest["metadata"], "annotations": {"team": "b"}}},
                  field_manager="kubectl")
    with committed():
        w.run_once()
    assert converter.lookup(name).annotations == {"team": "b"}
    gateway.ensure_absent(host, manifest["apiVersion"], kind, name)
    with committed():
        w.run_once()
    assert converter.lookup(name) is None
    verbs = [e.verb for e in AuditEvent.objects.filter(actor="system:kubewatch", kind=kind, name=name).order_by("id")]
    assert verbs == ["create", "update", "delete"]


def test_a_resource_deleted_while_kubewatch_was_away_takes_its_row_with_it(kube, host, site, committed):
    """GIVEN two workspaces seen by a watcher that then stops, and a row made while sync was off
    WHEN kubectl deletes one resource meanwhile and the watcher starts again
    THEN that row is deleted (one event of the sync), the other stays, the unsynced row gets its resource."""
    with committed():
        site.workspace("kept", "edge")
        site.workspace("gone", "edge")
    watcher(host).run_once()  # sees both, remembers them
    gateway.ensure_absent(host, "scope.theriseunion.io/v1alpha1", "Workspace", "gone")
    site.workspace("unsynced", "edge")  # not committed: as if sync had been off
    restarted = watcher(host)
    with committed():
        restarted.run_once()
    assert set(Workspace.objects.values_list("name", flat=True)) == {"kept", "unsynced"}
    assert cr(kube, "unsynced") is not None and cr(kube, "gone") is None
    assert [e.verb for e in kubectl_events("gone")] == ["delete"]


def test_what_kubewatch_remembers_of_another_host_cluster_deletes_nothing(kube_clusters, site, committed, eager_celery):
    """GIVEN a watcher that saw a workspace on one host cluster WHEN it starts against a new, empty host cluster
    THEN the row stays and its resource is written there."""
    first, second = kube_clusters(2)
    for emulated in (first, second):
        gateway.forget_clients()
        with override_settings(EDGE_KUBECONFIG=str(emulated.kubeconfig_path), **FAST):
            client = gateway.host_client()
            crds.install(client)
            if emulated is first:
                with committed():
                    site.workspace("line", "edge")
            watcher(client).run_once()
    gateway.forget_clients()
    assert Workspace.objects.filter(name="line").exists()
    assert second.object("workspaces", "line", group="scope.theriseunion.io") is not None
