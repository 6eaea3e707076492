"""Manifests written for the reference implementation are accepted unchanged and mean the same thing: its
annotations drive the spec (the spec wins where both are set), its connection fields are kept, its taint strings
are read as taints, and its ``status.uid`` is the member's kube-system namespace UID."""
from __future__ import annotations

import base64

import pytest
import yaml
from kubernetes import client, config

from clusters import services
from clusters.controller import CONTROLLER as CLUSTER_HEALTH
from clusters.manifests import ClusterConverter, NodeGroupConverter
from clusters.models import Cluster, NodeGroup
from edgeplatform import kube as gateway
from edgeplatform.controllers.engine import reconcile
from edgeplatform.kube.watch import Watcher

CLUSTERS = "/oapis/scope.theriseunion.io/v1alpha1/clusters"
NODEGROUPS = "/oapis/scope.theriseunion.io/v1alpha1/nodegroups"

#: a virtual edge cluster as the reference's users write it: everything in annotations
VIRTUAL_BY_ANNOTATIONS = yaml.safe_load("""
apiVersion: scope.theriseunion.io/v1alpha1
kind: Cluster
metadata:
  name: edge-vc-01
  labels:
    cluster.theriseunion.io/role: member
  annotations:
    cluster.theriseunion.io/vcluster-enabled: "true"
    cluster.theriseunion.io/vcluster-distro: k3s
    cluster.theriseunion.io/vcluster-namespace: vc-edge-01
    cluster.theriseunion.io/edge-runtime: kubeedge
spec:
  provider: theriseunion
  enable: true
  joinFederation: false
  externalKubeAPIEnabled: true
  config:
    replicas: 1
  connection:
    type: proxy
    kubernetesAPIEndpoint: https://10.0.0.12:6443
    kubernetesAPIServerPort: 6443
    externalKubernetesAPIEndpoint: https://edge-vc-01.example.com:6443
    theriseunionAPIEndpoint: http://edge-apiserver.edge-system.svc:8080
    theriseunionAPINamespace: edge-system
    theriseunionAPIServiceName: edge-apiserver
    theriseunionAPIServicePort: 8080
""")

NODEGROUP_WITH_TAINT_STRINGS = yaml.safe_load("""
apiVersion: scope.theriseunion.io/v1alpha1
kind: NodeGroup
metadata:
  name: edge-gpu
  labels:
    scope.theriseunion.io/cluster: edge-vc-01
spec:
  selector:
    matchLabels:
      hardware: gpu
  template:
    labels:
      node-role.kubernetes.io/edge: ""
    taints:
    - dedicated=edge:NoSchedule
    - gpu:NoExecute
    - zone=bj:PreferNoSchedule
    - {key: maintenance, value: "true", effect: NoSchedule}
""")


@pytest.fixture
def admin(platform, api):
    return api(platform.user("root", superuser=True))


def with_(manifest: dict, **changes) -> dict:
    """A deep copy of ``manifest`` with ``changes`` (``spec=…``, ``annotations=…``) merged into its parts."""
    out = yaml.safe_load(yaml.safe_dump(manifest))
    for part, value in changes.items():
        place = out["metadata"] if part == "annotations" else out
        place[part] = {**(place.get(part) or {}), **value}
    return out


def causes(response) -> dict:
    assert response.status_code == 422, response.content
    return {c["field"]: c["message"] for c in response.json()["details"]["causes"]}


def test_the_reference_annotations_make_a_virtual_edge_cluster(admin):
    """GIVEN the reference's virtual cluster manifest (annotations only) WHEN it is applied unchanged THEN the
    cluster reads back virtual, k3s, with KubeEdge, listed as virtual, its annotations as given, and its host
    namespace the annotation's."""
    created = admin.post(CLUSTERS, VIRTUAL_BY_ANNOTATIONS)
    assert created.status_code == 201, created.content
    body = admin.get(f"{CLUSTERS}/edge-vc-01").json()
    assert body["spec"]["type"] == "virtual"
    assert body["spec"]["distribution"] == "k3s"
    assert body["spec"]["edgeRuntime"]["type"] == "kubeedge"
    assert body["metadata"]["annotations"] == VIRTUAL_BY_ANNOTATIONS["metadata"]["annotations"]
    cluster = Cluster.objects.get(name="edge-vc-01")
    assert cluster.type == "virtual"  # the typed column filters and counts read
    assert services.vcluster_namespace(cluster) == "vc-edge-01"


def test_every_reference_spec_and_connection_field_is_kept(admin):
    """GIVEN the reference manifest with its connection fields WHEN applied THEN every spec and connection field
    reads back as written (none dropped)."""
    admin.post(CLUSTERS, VIRTUAL_BY_ANNOTATIONS)
    spec = admin.get(f"{CLUSTERS}/edge-vc-01").json()["spec"]
    for key, value in VIRTUAL_BY_ANNOTATIONS["spec"].items():
        assert spec[key] == value, key


def test_the_spec_wins_over_an_annotation(admin):
    """GIVEN annotations saying virtual, k3s, KubeEdge WHEN the spec says physical, k0s, OpenYurt THEN the spec's
    values are stored; an edge runtime given without a type still takes the annotation's."""
    manifest = with_(VIRTUAL_BY_ANNOTATIONS, spec={"type": "physical", "distribution": "k0s",
                                                   "edgeRuntime": {"type": "openyurt"}})
    assert admin.post(CLUSTERS, manifest).status_code == 201
    spec = admin.get(f"{CLUSTERS}/edge-vc-01").json()["spec"]
    assert (spec["type"], spec["distribution"], spec["edgeRuntime"]["type"]) == ("physical", "k0s", "openyurt")
    assert Cluster.objects.get(name="edge-vc-01").type == "physical"

    versioned = with_(VIRTUAL_BY_ANNOTATIONS, spec={"edgeRuntime": {"version": "1.15"}})
    assert admin.put(f"{CLUSTERS}/edge-vc-01", versioned).status_code == 200
    spec = admin.get(f"{CLUSTERS}/edge-vc-01").json()["spec"]
    assert spec["type"] == "virtual" and spec["edgeRuntime"] == {"type": "kubeedge", "version": "1.15"}


def test_vcluster_enabled_false_and_no_namespace_annotation_keep_the_defaults(admin):
    """GIVEN vcluster-enabled "false" and no namespace annotation WHEN applied THEN the cluster is physical and a
    virtual cluster's host namespace would be vcluster-<name>."""
    manifest = {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                "metadata": {"name": "plain", "annotations": {"cluster.theriseunion.io/vcluster-enabled": "false"}}}
    assert admin.post(CLUSTERS, manifest).status_code == 201
    cluster = Cluster.objects.get(name="plain")
    assert cluster.spec["type"] == "physical"
    assert services.vcluster_namespace(cluster) == "vcluster-plain"


def test_the_derived_fields_stay_through_a_merge_patch_and_go_with_a_replace(admin):
    """GIVEN a cluster made virtual by its annotation WHEN a merge patch removes the annotation THEN it stays
    virtual (the spec holds it); WHEN it is replaced without annotation or type THEN it is physical again."""
    assert admin.post(CLUSTERS, VIRTUAL_BY_ANNOTATIONS).status_code == 201
    enabled = "cluster.theriseunion.io/vcluster-enabled"
    patched = admin.patch(f"{CLUSTERS}/edge-vc-01", {"metadata": {"annotations": {enabled: None}}})
    assert patched.status_code == 200, patched.content
    assert enabled not in patched.json()["metadata"]["annotations"] and patched.json()["spec"]["type"] == "virtual"
    replaced = admin.put(f"{CLUSTERS}/edge-vc-01", {"apiVersion": "scope.theriseunion.io/v1alpha1",
                                                    "kind": "Cluster", "metadata": {"name": "edge-vc-01"}})
    assert replaced.status_code == 200 and replaced.json()["spec"]["type"] == "physical"
    assert Cluster.objects.get(name="edge-vc-01").type == "physical"


@pytest.mark.parametrize(("annotation", "value"), [
    ("cluster.theriseunion.io/vcluster-enabled", "yes"),
    ("cluster.theriseunion.io/vcluster-distro", "k9s"),
    ("cluster.theriseunion.io/edge-runtime", "superedge"),
    ("cluster.theriseunion.io/vcluster-namespace", "Not_A_Label"),
])
def test_a_bad_annotation_is_refused_naming_it(admin, annotation, value):
    """GIVEN a reference annotation with a value it cannot have WHEN applied THEN 422 naming that annotation,
    and nothing is stored."""
    response = admin.post(CLUSTERS, with_(VIRTUAL_BY_ANNOTATIONS, annotations={annotation: value}))
    assert list(causes(response)) == [f"metadata.annotations[{annotation}]"]
    assert not Cluster.objects.filter(name="edge-vc-01").exists()


@pytest.mark.parametrize(("field", "value"), [
    ("theriseunionAPIServicePort", 70000),
    ("theriseunionAPIServicePort", -1),
    ("theriseunionAPINamespace", "Edge_System"),
    ("theriseunionAPIServiceName", "edge.apiserver"),
    ("theriseunionAPIEndpoint", "edge-apiserver:8080"),
    ("theriseunionAPIEndpoint", "https://host:99999"),
])
def test_a_bad_connection_field_is_refused_naming_it(admin, field, value):
    """GIVEN a reference connection field with a bad value WHEN applied THEN 422 naming spec.connection.<field>."""
    response = admin.post(CLUSTERS, with_(VIRTUAL_BY_ANNOTATIONS, spec={"connection": {field: value}}))
    assert list(causes(response)) == [f"spec.connection.{field}"]


def test_taints_spelt_as_kubectl_taint_spells_them_are_stored_as_objects(admin):
    """GIVEN the reference's node group with taint strings beside an object WHEN applied unchanged THEN it is
    accepted and reads back with every taint as an object."""
    admin.post(CLUSTERS, VIRTUAL_BY_ANNOTATIONS)
    created = admin.post(NODEGROUPS, NODEGROUP_WITH_TAINT_STRINGS)
    assert created.status_code == 201, created.content
    taints = admin.get(f"{NODEGROUPS}/edge-gpu").json()["spec"]["template"]["taints"]
    assert taints == [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"},
                      {"key": "gpu", "effect": "NoExecute"},
                      {"key": "zone", "value": "bj", "effect": "PreferNoSchedule"},
                      {"key": "maintenance", "value": "true", "effect": "NoSchedule"}]


@pytest.mark.parametrize("taint", ["dedicated=edge", "dedicated=edge:NoRun", ":NoSchedule", "a b=c:NoSchedule",
                                   "dedicated=not ok:NoSchedule", 7, {"key": "gpu", "effect": "Sometimes"}])
def test_a_bad_taint_is_refused_naming_its_index(admin, taint):
    """GIVEN a taint that is neither spelling (no effect, an unknown effect, no key, a key or value Kubernetes
    refuses, not a string or object)
    WHEN applied as the second taint THEN 422 naming spec.template.taints[1]."""
    admin.post(CLUSTERS, VIRTUAL_BY_ANNOTATIONS)
    manifest = yaml.safe_load(yaml.safe_dump(NODEGROUP_WITH_TAINT_STRINGS))
    manifest["spec"]["template"]["taints"][1] = taint
    fields = causes(admin.post(NODEGROUPS, manifest))
    assert fields and all(field.startswith("spec.template.taints[1]") for field in fields), fields


def test_status_uid_is_the_members_kube_system_namespace_uid(platform, kube_clusters):
    """GIVEN a cluster registered with an emulated member's kubeconfig, base64-encoded as the reference's
    ``kubeconfig`` bytes are WHEN its health is checked THEN ``status.uid`` is the UID the member's API server gives
    its kube-system namespace, read once."""
    (member,) = kube_clusters(1)
    encoded = base64.b64encode(yaml.safe_dump(member.kubeconfig()).encode()).decode()
    cluster = platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                              "metadata": {"name": "site"}, "spec": {"type": "physical", "connection": {
                                  "type": "direct", "kubeconfig": encoded}}})[0]
    api_client = config.new_client_from_config_dict(member.kubeconfig())
    try:
        expected = client.CoreV1Api(api_client).read_namespace("kube-system").metadata.uid
    finally:
        api_client.close()
    assert reconcile(CLUSTER_HEALTH, cluster.pk).result == "success"
    cluster.refresh_from_db()
    assert expected and cluster.status["uid"] == expected
    member.requests.clear()
    assert reconcile(CLUSTER_HEALTH, cluster.pk).result == "success"
    assert member.requests.count(path="/api/v1/namespaces/kube-system") == 0


def test_the_reference_manifests_applied_with_kubectl_come_in_through_the_crd_sync(host, platform,
                                                                                   django_capture_on_commit_callbacks):
    """GIVEN the platform's CRDs on the host WHEN the reference's Cluster and NodeGroup (taint strings) are applied
    unchanged with kubectl THEN the CRDs accept them and the sync stores them with the same meaning."""
    gateway.apply(host, VIRTUAL_BY_ANNOTATIONS, field_manager="kubectl")
    gateway.apply(host, NODEGROUP_WITH_TAINT_STRINGS, field_manager="kubectl")
    watcher = Watcher(host, [ClusterConverter(), NodeGroupConverter()], timeout_seconds=0.5, backoff=0.01,
                      backoff_max=0.05)
    with django_capture_on_commit_callbacks(execute=True):
        watcher.run_once()
    cluster = Cluster.objects.get(name="edge-vc-01")
    assert (cluster.type, cluster.spec["distribution"], cluster.spec["edgeRuntime"]["type"]) == \
        ("virtual", "k3s", "kubeedge")
    assert cluster.spec["connection"]["theriseunionAPIServicePort"] == 8080
    taints = NodeGroup.objects.get(name="edge-gpu").spec["template"]["taints"]
    assert taints[0] == {"key": "dedicated", "value": "edge", "effect": "NoSchedule"} and len(taints) == 4
