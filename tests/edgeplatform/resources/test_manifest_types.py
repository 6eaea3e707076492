"""Pieces of a manifest of the wrong JSON type are a 422 Status naming the field, for every kind, and write nothing;
``status`` sent with a manifest is ignored, as kube-apiserver ignores it on the main resource."""
import copy

import pytest
import yaml

from edgeplatform.resources import loader
from edgeplatform.resources.errors import StatusError
from iam.audit.models import AuditEvent
from tests import fleet
from tests.support import binding_manifest

IAM = "/oapis/iam.theriseunion.io/v1alpha1"
SCOPE = "/oapis/scope.theriseunion.io/v1alpha1"
GROUP = "iam.theriseunion.io/v1alpha1"
SELECTOR = "spec.aggregationRoleTemplates.roleSelector"


def user(**spec):
    return {"apiVersion": GROUP, "kind": "User", "metadata": {"name": "bob"}, "spec": spec}


def role(**spec):
    return {"apiVersion": GROUP, "kind": "IAMRole",
            "metadata": {"name": "r9", "labels": {"iam.theriseunion.io/scope": "workspace"}}, "spec": spec}


def selector_role(selector):
    return role(aggregationRoleTemplates={"roleSelector": selector})


def binding(**spec):
    body = binding_manifest("b9", "reader-workspace", "workspace", "w1", users=("bob",))
    body["spec"].update(spec)
    return body


def cluster(**spec):
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "c9"},
            "spec": {"type": "physical", **spec}}


def workspace(**spec):
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Workspace",
            "metadata": {"name": "w9", "labels": {"scope.theriseunion.io/cluster": "c1"}}, "spec": spec}


def nodegroup(**spec):
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "NodeGroup",
            "metadata": {"name": "g9", "labels": {"scope.theriseunion.io/cluster": "c1"}}, "spec": spec}


def with_metadata(body, **metadata):
    body = copy.deepcopy(body)
    body["metadata"].update(metadata)
    return body


#: (collection, manifest, the field the 422 names)
WRONG_TYPES = [
    ("users", with_metadata(user(), name=7), "metadata.name"),
    ("users", {**user(), "metadata": ["bob"]}, "metadata"),
    ("users", with_metadata(user(), labels=["a"]), "metadata.labels"),
    ("users", with_metadata(user(), labels={"a": 1}), "metadata.labels[a]"),
    ("users", with_metadata(user(), annotations={"a": {"b": "c"}}), "metadata.annotations[a]"),
    ("users", with_metadata(user(), resourceVersion={"v": 1}), "metadata.resourceVersion"),
    ("users", {**user(), "spec": ["x"]}, "spec"),
    ("users", user(groups="ops"), "spec.groups"),
    ("users", user(groups=[["ops"]]), "spec.groups[0]"),
    ("users", user(password=["secret"]), "spec.password"),
    ("users", user(displayName={"en": "Bob"}), "spec.displayName"),
    ("users", {**user(), "status": {"state": 5}}, "status.state"),
    ("iamroles", role(rules="get everything"), "spec.rules"),
    ("iamroles", role(rules=[1]), "spec.rules[0]"),
    ("iamroles", role(rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": "get"}]), "spec.rules[0].verbs"),
    ("iamroles", role(uiPermissions="platform/clusters.manage"), "spec.uiPermissions"),
    ("iamroles", role(displayName="Nine"), "spec.displayName"),
    ("iamroles", role(aggregationRoleTemplates=5), "spec.aggregationRoleTemplates"),
    ("iamroles", role(aggregationRoleTemplates={"templateNames": "t1"}),
     "spec.aggregationRoleTemplates.templateNames"),
    ("iamroles", selector_role({"matchLabels": ["a"]}), f"{SELECTOR}.matchLabels"),
    ("iamroles", selector_role({"matchLabels": {"a": 5}}), f"{SELECTOR}.matchLabels"),
    ("iamroles", selector_role({"matchExpressions": 5}), f"{SELECTOR}.matchExpressions"),
    ("iamroles", selector_role({"matchExpressions": [{"key": "a", "operator": "In", "values": "abc"}]}),
     f"{SELECTOR}.matchExpressions[0].values"),
    ("iamroles", selector_role({"matchExpressions": [{"key": ["a"], "operator": "Exists"}]}),
     f"{SELECTOR}.matchExpressions[0].key"),
    ("iamroles", selector_role({"matchExpressions": ["a"]}), f"{SELECTOR}.matchExpressions[0]"),
    ("iamrolebindings", binding(roleRef="reader-workspace"), "spec.roleRef"),
    ("iamrolebindings", binding(subjects={"kind": "User", "name": "bob"}), "spec.subjects"),
    ("iamrolebindings", binding(subjects=[5]), "spec.subjects[0]"),
    ("iamrolebindings", with_metadata(binding(), labels={"iam.theriseunion.io/scope": 5}),
     "metadata.labels[iam.theriseunion.io/scope]"),
    ("clusters", cluster(connection=["x"]), "spec.connection"),
    ("clusters", cluster(connection={"kubernetesAPIServerPort": "https"}), "spec.connection.kubernetesAPIServerPort"),
    ("clusters", cluster(edgeRuntime="kubeedge"), "spec.edgeRuntime"),
    ("clusters", cluster(enable="maybe"), "spec.enable"),
    ("workspaces", workspace(template="x"), "spec.template"),
    ("workspaces", workspace(template={"namespaces": "n1"}), "spec.template.namespaces"),
    ("workspaces", with_metadata(workspace(), labels={"scope.theriseunion.io/cluster": ["c1"]}),
     "metadata.labels[scope.theriseunion.io/cluster]"),
    ("nodegroups", nodegroup(selector=["zone"]), "spec.selector"),
    ("nodegroups", nodegroup(selector={"matchLabels": ["zone"]}), "spec.selector.matchLabels"),
    ("nodegroups", nodegroup(template={"taints": {"key": "a"}}), "spec.template.taints"),
    ("nodegroups", nodegroup(template={"labels": ["a"]}), "spec.template.labels"),
]
URLS = {"users": f"{IAM}/users", "iamroles": f"{IAM}/iamroles", "iamrolebindings": f"{IAM}/iamrolebindings",
        "clusters": f"{SCOPE}/clusters", "workspaces": f"{SCOPE}/workspaces", "nodegroups": f"{SCOPE}/nodegroups"}


@pytest.fixture
def root(platform, api):
    fleet.build(platform)
    platform.user("bob")
    return api(platform.user("root", superuser=True))


def writes_since(start: int) -> int:
    return AuditEvent.objects.filter(id__gt=start, result="allowed").exclude(verb__in=("get", "list")).count()


@pytest.mark.parametrize(("plural", "manifest", "field"), WRONG_TYPES,
                         ids=[f"{plural}:{field}" for plural, _, field in WRONG_TYPES])
def test_a_wrong_type_is_a_422_naming_the_field(root, plural, manifest, field):
    start = max([0, *AuditEvent.objects.values_list("id", flat=True)])
    name = manifest["metadata"]["name"] if isinstance(manifest["metadata"], dict) else "bob"
    exists = plural == "users" and name == "bob"  # bob exists: replace him
    if exists:
        response = root.put(f"{URLS[plural]}/bob", manifest)
    else:
        response = root.post(URLS[plural], manifest)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["kind"] == "Status" and body["reason"] == "Invalid"
    assert field in [c["field"] for c in body["details"]["causes"]], body
    assert writes_since(start) == 0
    if not exists and isinstance(name, str):
        assert root.get(f"{URLS[plural]}/{name}").status_code == 404


@pytest.mark.parametrize("status", [[1], "Disabled", 5, None, {"state": "Active", "lastLoginTime": ["x"]}])
@pytest.mark.parametrize("plural", ["users", "workspaces", "clusters"])
def test_status_is_ignored_on_input_whatever_its_type(root, plural, status):
    """GIVEN a manifest carrying a status of any type WHEN it is created THEN the status sent is ignored (a User's
    status.state is read only from an object) and the platform's own status is shown."""
    manifest = {"users": user(displayName="Bob"), "workspaces": workspace(), "clusters": cluster()}[plural]
    manifest = with_metadata(manifest, name="x9")
    manifest["status"] = status
    response = root.post(URLS[plural], manifest)
    assert response.status_code == 201, response.content
    shown = response.json()["status"]
    assert shown != status
    if plural == "users":
        assert shown["state"] == "Active"


@pytest.mark.parametrize(("text", "field"), [
    ("metadata: {name: w9, labels: {scope.theriseunion.io/cluster: c1, 1: x}}", "metadata.labels"),
    ("metadata: {name: w9, labels: {scope.theriseunion.io/cluster: c1, ~: x}}", "metadata.labels"),
    ("metadata: {name: w9, labels: {scope.theriseunion.io/cluster: c1}, annotations: {true: x}}",
     "metadata.annotations"),
    ("metadata: {name: w9, labels: {scope.theriseunion.io/cluster: c1}}\nspec: {displayName: 2024-01-01}",
     "spec.displayName"),
    ("metadata: {name: w9, labels: {scope.theriseunion.io/cluster: c1}}\nspec: {template: {resourceQuotas: {1: 2}}}",
     "spec.template.resourceQuotas"),
])
def test_yaml_that_is_no_json_data_is_refused_on_import(root, text, field):
    """GIVEN a YAML manifest as a file to import holds a key that is no string (`1:`, `~:`, `true:`) or a date
    WHEN it is applied THEN it is a 422 naming the field, and nothing is written."""
    manifest = {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Workspace", **yaml.safe_load(text)}
    with pytest.raises(StatusError) as refused:
        loader.apply([manifest])
    assert refused.value.status_code == 422
    assert field in [c["field"] for c in refused.value.details["causes"]]
    assert root.get(f"{SCOPE}/workspaces/w9").status_code == 404
