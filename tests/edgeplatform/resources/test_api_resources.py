"""The REST surface: manifests, label selectors, paging, Status errors, optimistic concurrency."""
import json

import pytest

from tests.factories import IAMRoleFactory
from tests.support import binding_manifest

CLUSTERS = "/oapis/scope.theriseunion.io/v1alpha1/clusters"
WS = "/oapis/scope.theriseunion.io/v1alpha1/workspaces"
TEMPLATES = "/oapis/iam.theriseunion.io/v1alpha1/roletemplates"
ROLES = "/oapis/iam.theriseunion.io/v1alpha1/iamroles"
BINDINGS = "/oapis/iam.theriseunion.io/v1alpha1/iamrolebindings"
USERS = "/oapis/iam.theriseunion.io/v1alpha1/users"


@pytest.fixture
def admin(platform, api):
    return api(platform.user("root", superuser=True))


def cluster(name, **labels):
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name, "labels": labels}, "spec": {"type": "physical"}}


def test_create_get_list_delete_roundtrip(admin):
    created = admin.post(CLUSTERS, cluster("edge-bj-01", **{"cluster.theriseunion.io/role": "member"}))
    assert created.status_code == 201
    body = created.json()
    assert body["apiVersion"] == "scope.theriseunion.io/v1alpha1" and body["kind"] == "Cluster"
    assert body["metadata"]["uid"] and body["metadata"]["creationTimestamp"]
    assert admin.get(f"{CLUSTERS}/edge-bj-01").json() == body
    listing = admin.get(CLUSTERS).json()
    assert listing["kind"] == "ClusterList" and [i["metadata"]["name"] for i in listing["items"]] == ["edge-bj-01"]
    deleted = admin.delete(f"{CLUSTERS}/edge-bj-01")
    assert deleted.status_code == 200 and deleted.json()["status"] == "Success"
    assert admin.get(f"{CLUSTERS}/edge-bj-01").status_code == 404


def test_yaml_bodies_are_accepted(admin):
    response = admin.client.post(CLUSTERS, data="apiVersion: scope.theriseunion.io/v1alpha1\nkind: Cluster\n"
                                                "metadata:\n  name: from-yaml\nspec:\n  type: virtual\n",
                                 content_type="application/yaml", **admin.headers)
    assert response.status_code == 201
    assert response.json()["spec"]["type"] == "virtual"


def test_label_selector_and_paging(admin):
    for i in range(7):
        admin.post(CLUSTERS, cluster(f"c{i}", tier="edge" if i % 2 else "core", zone=f"z{i % 3}"))
    names = lambda r: [i["metadata"]["name"] for i in r.json()["items"]]  # noqa: E731
    assert names(admin.get(f"{CLUSTERS}?labelSelector=tier%3Dedge")) == ["c1", "c3", "c5"]
    assert names(admin.get(f"{CLUSTERS}?labelSelector=tier!%3Dedge,zone+in+(z0,z2)")) == ["c0", "c2", "c6"]
    assert names(admin.get(f"{CLUSTERS}?labelSelector=!tier")) == []
    first = admin.get(f"{CLUSTERS}?limit=3").json()
    assert [i["metadata"]["name"] for i in first["items"]] == ["c0", "c1", "c2"]
    assert first["metadata"]["remainingItemCount"] == 4
    second = admin.get(f"{CLUSTERS}?limit=3&continue={first['metadata']['continue']}").json()
    assert [i["metadata"]["name"] for i in second["items"]] == ["c3", "c4", "c5"]
    bad = admin.get(f"{CLUSTERS}?labelSelector=tier%3D%3D%3D")
    assert bad.status_code == 400 and bad.json()["details"]["causes"][0]["field"] == "labelSelector"


def test_stale_resource_version_is_a_conflict_and_changes_nothing(admin):
    admin.post(CLUSTERS, cluster("c1"))
    first = admin.get(f"{CLUSTERS}/c1").json()
    first["spec"]["provider"] = "aliyun"
    assert admin.put(f"{CLUSTERS}/c1", first).status_code == 200
    stale = dict(first, spec={**first["spec"], "provider": "aws"})
    response = admin.put(f"{CLUSTERS}/c1", stale)
    assert response.status_code == 409 and response.json()["reason"] == "Conflict"
    now = admin.get(f"{CLUSTERS}/c1").json()
    assert now["spec"]["provider"] == "aliyun"
    assert now["metadata"]["resourceVersion"] == "2" and now["metadata"]["generation"] == 2


def test_duplicate_create_is_already_exists(admin):
    admin.post(CLUSTERS, cluster("c1"))
    response = admin.post(CLUSTERS, cluster("c1"))
    assert response.status_code == 409 and response.json()["reason"] == "AlreadyExists"


def test_merge_patch_changes_only_what_it_names(admin):
    admin.post(CLUSTERS, cluster("c1", a="1"))
    response = admin.patch(f"{CLUSTERS}/c1", {"metadata": {"labels": {"b": "2", "a": None}},
                                              "spec": {"provider": "k3s-site"}})
    assert response.status_code == 200
    body = response.json()
    assert body["metadata"]["labels"] == {"b": "2"} and body["spec"] == {"type": "physical", "provider": "k3s-site"}


@pytest.mark.parametrize("manifest, field", [
    ({"metadata": {"name": "Bad_Name"}}, "metadata.name"),
    ({"metadata": {"name": "ok"}, "spec": {"type": "floating"}}, "spec.type"),
    ({"metadata": {"name": "ok"}, "spec": {"edgeRuntime": {"type": "k9s"}}}, "spec.edgeRuntime.type"),
    ({"apiVersion": "v1", "metadata": {"name": "ok"}}, "apiVersion"),
    ({"metadata": {"name": "ok", "labels": {"a": "not valid!"}}}, "metadata.labels[a]"),
])
def test_invalid_manifests_name_the_field(admin, manifest, field):
    response = admin.post(CLUSTERS, manifest)
    assert response.status_code == 422
    status = response.json()
    assert status["kind"] == "Status" and status["reason"] == "Invalid"
    assert field in [c["field"] for c in status["details"]["causes"]]
    assert admin.get(CLUSTERS).json()["items"] == []


def test_rules_with_unknown_verbs_are_rejected(admin):
    body = {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "RoleTemplate",
            "metadata": {"name": "t1", "labels": {"iam.theriseunion.io/scope": "workspace"}},
            "spec": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "destroy"]}]}}
    response = admin.post(TEMPLATES, body)
    assert response.status_code == 422
    causes = response.json()["details"]["causes"]
    assert [c["field"] for c in causes] == ["spec.rules[0].verbs"] and "destroy" in causes[0]["message"]


def test_binding_scope_must_exist_and_fit_the_role(admin, platform):
    platform.cluster("c1")
    platform.workspace("w1", "c1")
    IAMRoleFactory(name="ws-role", level="workspace")
    missing = admin.post(BINDINGS, binding_manifest("b1", "ws-role", "workspace", "nope", users=("x",)))
    assert missing.status_code == 422
    assert missing.json()["details"]["causes"][0]["field"] == "metadata.labels[iam.theriseunion.io/scope-value]"
    wrong_level = admin.post(BINDINGS, binding_manifest("b2", "ws-role", "cluster", "c1", users=("x",)))
    assert wrong_level.status_code == 422
    assert wrong_level.json()["details"]["causes"][0]["field"] == "spec.roleRef.name"
    no_role = admin.post(BINDINGS, binding_manifest("b3", "ghost", "workspace", "w1", users=("x",)))
    assert no_role.status_code == 422
    assert admin.post(BINDINGS, binding_manifest("b4", "ws-role", "workspace", "w1", users=("x",))).status_code == 201


def test_a_pinned_role_binds_only_at_its_scope(admin, platform):
    platform.cluster("c1")
    platform.workspace("w1", "c1")
    platform.workspace("w2", "c1")
    pinned = {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "IAMRole",
              "metadata": {"name": "w1-custom", "labels": {"iam.theriseunion.io/scope": "workspace",
                                                           "iam.theriseunion.io/scope-value": "w1"}},
              "spec": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}}
    assert admin.post(ROLES, pinned).status_code == 201
    elsewhere = admin.post(BINDINGS, binding_manifest("b1", "w1-custom", "workspace", "w2", users=("x",)))
    assert elsewhere.status_code == 422
    assert admin.post(BINDINGS, binding_manifest("b2", "w1-custom", "workspace", "w1",
                                                 users=("x",))).status_code == 201


def test_namespace_scope_needs_the_cluster_when_names_repeat(admin, platform):
    for c in ("c1", "c2"):
        platform.cluster(c)
        platform.namespace("shared", c)
    IAMRoleFactory(name="ns-role", level="namespace")
    ambiguous = admin.post(BINDINGS, binding_manifest("b1", "ns-role", "namespace", "shared", users=("x",)))
    assert ambiguous.status_code == 422
    assert "scope.theriseunion.io/cluster" in ambiguous.json()["message"]
    ok = admin.post(BINDINGS, binding_manifest("b2", "ns-role", "namespace", "shared", "c2", users=("x",)))
    assert ok.status_code == 201


def test_users_hide_passwords_and_see_themselves(platform, admin):
    response = admin.post(USERS, {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "User",
                                  "metadata": {"name": "neo"},
                                  "spec": {"email": "neo@example.com", "password": "Tr1nity-Matrix-99"}})
    assert response.status_code == 201
    assert "password" not in response.json()["spec"]
    weak = admin.post(USERS, {"metadata": {"name": "weak"}, "spec": {"password": "123"}})
    assert weak.status_code == 422 and weak.json()["details"]["causes"][0]["field"] == "spec.password"
    from django.test import Client

    platform.user("other")
    token = Client().post("/oauth/token", {"grant_type": "password", "username": "neo",
                                           "password": "Tr1nity-Matrix-99"}).json()["access_token"]
    me = Client().get(f"{USERS}/neo", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 200 and me.json()["status"]["state"] == "Active"
    others = Client().get(USERS, HTTP_AUTHORIZATION=f"Bearer {token}").json()["items"]
    assert [u["metadata"]["name"] for u in others] == ["neo"]


def test_openapi_schema_and_docs_are_served(admin):
    schema = admin.get("/oapis/schema/")
    assert schema.status_code == 200
    assert b"/oapis/scope.theriseunion.io/v1alpha1/workspaces" in schema.content
    assert admin.get("/oapis/docs/").status_code == 200


def test_a_trailing_newline_is_no_part_of_a_valid_name_or_label(admin):
    """Kubernetes (Go regexps) refuses them; so does the platform, before a cluster would."""
    body = {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Workspace",
            "metadata": {"name": "shop\n", "labels": {"scope.theriseunion.io/cluster": "c1"}}, "spec": {}}
    response = admin.post("/oapis/scope.theriseunion.io/v1alpha1/workspaces", body)
    assert response.status_code == 422 and response.json()["details"]["causes"][0]["field"] == "metadata.name"
    body["metadata"]["name"] = "shop"
    body["metadata"]["labels"]["team"] = "a\n"
    response = admin.post("/oapis/scope.theriseunion.io/v1alpha1/workspaces", body)
    assert response.status_code == 422, response.json()
    assert response.json()["details"]["causes"][0]["field"].startswith("metadata.labels")


def test_a_user_carried_over_with_a_bcrypt_hash_logs_in_with_their_password(admin):
    """GIVEN a User manifest of the earlier implementation (spec.encryptedPassword, bcrypt, as Go writes it)
    WHEN it is posted THEN its owner logs in with the password it hashes, and the hash is upgraded."""
    import bcrypt
    from django.test import Client

    from iam.models import User

    carried = bcrypt.hashpw(b"Old-Edge-Pass-1", bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()
    response = admin.post(USERS, {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "User",
                                  "metadata": {"name": "legacy"}, "spec": {"encryptedPassword": carried}})
    assert response.status_code == 201, response.json()
    assert "encryptedPassword" not in response.json()["spec"]
    wrong = Client().post("/oauth/token", {"grant_type": "password", "username": "legacy", "password": "nope"})
    assert wrong.status_code == 400
    right = Client().post("/oauth/token", {"grant_type": "password", "username": "legacy",
                                           "password": "Old-Edge-Pass-1"})
    assert right.status_code == 200 and right.json()["token_type"] == "Bearer"
    assert not User.objects.get(name="legacy").password.startswith("bcrypt$")  # re-hashed the default way
    bad = admin.post(USERS, {"metadata": {"name": "bad"}, "spec": {"encryptedPassword": "plain-text"}})
    assert bad.status_code == 422 and bad.json()["details"]["causes"][0]["field"] == "spec.encryptedPassword"


def test_an_error_in_a_list_item_names_it_by_index(admin):
    body = binding_manifest("b-bad", "cluster-viewer", "platform", "global", users=("ann",))
    body["spec"]["subjects"].append({"kind": "Robot", "name": "r2"})
    response = admin.post(BINDINGS, body)
    assert response.status_code == 422
    assert response.json()["details"]["causes"][0]["field"] == "spec.subjects[1].kind"


def test_kubectl_patch_types_apply_to_our_kinds(admin):
    """kubectl's default strategic-merge patch merges maps and replaces lists (its directives mean nothing for
    kinds without patch-merge keys); ``kubectl apply --server-side`` creates the object, then patches it."""
    admin.post(CLUSTERS, cluster("edge-sm", region="bj"))
    response = admin.client.patch(f"{CLUSTERS}/edge-sm", data=json.dumps(
        {"metadata": {"labels": {"zone": "a"}}, "spec": {"provider": "aliyun", "$retainKeys": ["provider"]}}),
        content_type="application/strategic-merge-patch+json", **admin.headers)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["metadata"]["labels"] == {"region": "bj", "zone": "a"}
    assert body["spec"] == {"type": "physical", "provider": "aliyun"}

    applied = ("apiVersion: scope.theriseunion.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: edge-ssa\n"
               "spec:\n  type: virtual\n")
    created = admin.client.patch(f"{CLUSTERS}/edge-ssa?fieldManager=kubectl", data=applied,
                                 content_type="application/apply-patch+yaml", **admin.headers)
    assert created.status_code == 201, created.content
    changed = admin.client.patch(f"{CLUSTERS}/edge-ssa?fieldManager=kubectl", data=applied + "  provider: aws\n",
                                 content_type="application/apply-patch+yaml", **admin.headers)
    assert changed.status_code == 200
    assert changed.json()["spec"] == {"type": "virtual", "provider": "aws"}
    assert changed.json()["metadata"]["uid"] == created.json()["metadata"]["uid"]
    mismatched = admin.client.patch(f"{CLUSTERS}/edge-other", data=applied,
                                    content_type="application/apply-patch+yaml", **admin.headers)
    assert mismatched.status_code == 422
    assert [c["field"] for c in mismatched.json()["details"]["causes"]] == ["metadata.name"]
