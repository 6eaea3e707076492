"""A replace or patch that changes nothing writes nothing: resourceVersion and generation stay, the row is not saved,
nothing is audited as a write and nothing is synced — as kube-apiserver answers a no-op update."""
import pytest

from iam.audit.models import AuditEvent
from tests import fleet
from tests.support import binding_manifest

IAM = "/oapis/iam.theriseunion.io/v1alpha1"
SCOPE = "/oapis/scope.theriseunion.io/v1alpha1"
CLUSTER_LABEL = {"scope.theriseunion.io/cluster": "c1"}


def new_objects() -> dict:
    """URL of the collection → a manifest to create there, one per kind."""
    return {
        f"{SCOPE}/clusters": {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                              "metadata": {"name": "c9"}, "spec": {"type": "physical", "provider": "edge"}},
        f"{SCOPE}/workspaces": {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Workspace",
                                "metadata": {"name": "w9", "labels": CLUSTER_LABEL},
                                "spec": {"displayName": "Nine"}},
        f"{SCOPE}/nodegroups": {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "NodeGroup",
                                "metadata": {"name": "g9", "labels": CLUSTER_LABEL},
                                "spec": {"selector": {"matchLabels": {"zone": "nine"}}}},
        f"{SCOPE}/clusters/c1/namespaces": {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "n9", "labels": {"theriseunion.io/workspace": "w1"}}},
        f"{SCOPE}/clusters/c1/nodes": {"apiVersion": "v1", "kind": "Node",
                                       "metadata": {"name": "x9", "labels": {"zone": "nine"}}},
        f"{IAM}/users": {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "User",
                         "metadata": {"name": "bob"}, "spec": {"displayName": "Bob", "groups": ["ops", "dev"]}},
        f"{IAM}/groups": {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Group",
                          "metadata": {"name": "ops"}, "spec": {"displayName": "Operations"}},
        f"{IAM}/categories": {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Category",
                              "metadata": {"name": "things"}, "spec": {"displayName": {"en-US": "Things"}}},
        f"{IAM}/roletemplates": {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "RoleTemplate",
                                 "metadata": {"name": "t9", "labels": {"iam.theriseunion.io/scope": "workspace",
                                                                       "iam.theriseunion.io/aggregate-to-r9": ""}},
                                 "spec": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}},
        f"{IAM}/iamroles": {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "IAMRole",
                            "metadata": {"name": "r9", "labels": {"iam.theriseunion.io/scope": "workspace"}},
                            "spec": {"aggregationRoleTemplates": {"roleSelector": {"matchLabels": {
                                "iam.theriseunion.io/aggregate-to-r9": ""}}}}},
        f"{IAM}/iamrolebindings": binding_manifest("b9", "r9", "workspace", "w1", users=("bob",), groups=("ops",)),
    }


@pytest.fixture
def root(platform, api):
    fleet.build(platform)
    return api(platform.user("root", superuser=True))


def writes_since(start: int) -> list:
    return list(AuditEvent.objects.filter(id__gt=start, verb__in=("create", "update", "patch", "delete")))


def newest_event() -> int:
    event = AuditEvent.objects.order_by("-id").first()
    return event.id if event else 0


def row_of(url: str):
    from edgeplatform.resources.converters import registered

    plural = url.rstrip("/").rsplit("/", 2)[-2]
    converter = next(c for c in registered() if c.plural == plural)
    return converter.model.objects.get(name=url.rsplit("/", 1)[-1])


@pytest.mark.parametrize("collection", list(new_objects()))
def test_sending_back_what_was_read_changes_nothing(root, collection):
    """GIVEN an object of each kind WHEN its manifest is sent back as read (PUT), as an empty merge patch and as a
    patch repeating a value THEN resourceVersion and generation stay, the row is not saved and nothing is audited."""
    if collection.endswith("iamrolebindings"):  # a binding needs its role
        assert root.post(f"{IAM}/iamroles", new_objects()[f"{IAM}/iamroles"]).status_code == 201
    created = root.post(collection, new_objects()[collection])
    assert created.status_code == 201, created.json()
    url = f"{collection}/{created.json()['metadata']['name']}"
    current = root.get(url).json()
    saved_at = row_of(url).updated
    start = newest_event()
    repeated = {"metadata": {"labels": current["metadata"].get("labels") or {}}, "spec": current["spec"]}
    for response in (root.put(url, current), root.patch(url, {}), root.patch(url, repeated)):
        assert response.status_code == 200, response.json()
        assert response.json()["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]
        assert response.json()["metadata"]["generation"] == current["metadata"]["generation"]
    assert root.get(url).json() == current
    assert row_of(url).updated == saved_at
    assert writes_since(start) == []


def test_a_real_change_after_no_ops_is_one_write(root):
    created = root.post(f"{SCOPE}/workspaces", new_objects()[f"{SCOPE}/workspaces"]).json()
    url = f"{SCOPE}/workspaces/w9"
    root.put(url, created)
    start = newest_event()
    changed = root.patch(url, {"spec": {"displayName": "Nine!"}}).json()
    assert changed["metadata"]["resourceVersion"] == str(int(created["metadata"]["resourceVersion"]) + 1)
    assert changed["metadata"]["generation"] == created["metadata"]["generation"] + 1
    [event] = writes_since(start)
    assert event.verb == "patch" and event.name == "w9"


def test_a_no_op_with_a_stale_resource_version_is_still_a_conflict(root):
    created = root.post(f"{SCOPE}/workspaces", new_objects()[f"{SCOPE}/workspaces"]).json()
    root.patch(f"{SCOPE}/workspaces/w9", {"spec": {"displayName": "Changed"}})
    created["spec"]["displayName"] = "Changed"  # the same content, from an older read
    assert root.put(f"{SCOPE}/workspaces/w9", created).status_code == 409


def test_changing_only_a_users_groups_is_a_write(root):
    created = root.post(f"{IAM}/users", new_objects()[f"{IAM}/users"]).json()
    start = newest_event()
    changed = root.patch(f"{IAM}/users/bob", {"spec": {"groups": ["ops"]}}).json()
    assert changed["spec"]["groups"] == ["ops"]
    assert changed["metadata"]["resourceVersion"] == str(int(created["metadata"]["resourceVersion"]) + 1)
    [event] = writes_since(start)
    assert event.before["spec"]["groups"] == ["dev", "ops"] and event.after["spec"]["groups"] == ["ops"]


def test_a_no_op_syncs_nothing(kube, host, root, django_capture_on_commit_callbacks):
    """GIVEN a workspace synced to the host cluster WHEN it is sent back unchanged THEN no sync is queued and the
    custom resource is untouched; a real change is synced."""
    with django_capture_on_commit_callbacks(execute=True):
        root.post(f"{SCOPE}/workspaces", new_objects()[f"{SCOPE}/workspaces"])
    created = root.get(f"{SCOPE}/workspaces/w9").json()  # as stored, with the status its controller wrote
    synced = kube.object("workspaces", "w9", group="scope.theriseunion.io")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert root.put(f"{SCOPE}/workspaces/w9", created).status_code == 200
    assert callbacks == []
    assert kube.object("workspaces", "w9", group="scope.theriseunion.io") == synced
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert root.patch(f"{SCOPE}/workspaces/w9", {"spec": {"displayName": "Nine!"}}).status_code == 200
    assert callbacks
    assert kube.object("workspaces", "w9", group="scope.theriseunion.io")["spec"]["displayName"] == "Nine!"
