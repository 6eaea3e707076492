"""The CRDs under deploy/crds: generated from the converters, installed idempotently, and accepting every
manifest the API produces without losing a field (the API server prunes what a schema does not declare)."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from edgeplatform import kube as gateway
from edgeplatform.kube import crds
from edgeplatform.resources.converters import registered

CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
EXPECTED_KINDS = {("iam.theriseunion.io", k) for k in ("RoleTemplate", "IAMRole", "IAMRoleBinding", "User",
                                                         "Category")} | \
                 {("scope.theriseunion.io", k) for k in ("Cluster", "Workspace", "NodeGroup")}


def url(kind: str) -> str:
    converter = next(c for c in registered() if c.kind == kind and c.group.endswith("theriseunion.io"))
    return f"/oapis/{converter.group}/{converter.version}/{converter.plural}"


def rich_manifests(prefix: str = "crdtest") -> list[dict]:
    """One manifest per CRD kind, using every field its spec has, in an order the API accepts."""
    iam, scope = "iam.theriseunion.io/v1alpha1", "scope.theriseunion.io/v1alpha1"
    cluster, ws, ng = f"{prefix}-edge", f"{prefix}-ws", f"{prefix}-ng"
    rules = [{"apiGroups": ["", "apps"], "resources": ["pods", "deployments"], "resourceNames": ["web"],
              "verbs": ["get", "list", "watch"]},
             {"nonResourceURLs": ["/healthz", "/metrics"], "verbs": ["get"]}]
    return [
        {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Group", "metadata": {"name": f"{prefix}-ops"},
         "spec": {"displayName": "Ops"}},
        {"apiVersion": scope, "kind": "Cluster",
         "metadata": {"name": cluster, "labels": {"cluster.theriseunion.io/role": "member", "region": "bj"},
                      "annotations": {"theriseunion.io/description": "Beijing edge"}},
         "spec": {"provider": "aliyun", "enable": True, "joinFederation": False, "externalKubeAPIEnabled": True,
                  "config": {"monitoring": {"enabled": True, "retention": "7d"}, "replicas": 2,
                             "tolerations": [{"key": "edge", "operator": "Exists"}]},
                  "connection": {"type": "direct", "kubernetesAPIEndpoint": "https://10.0.0.1",
                                 "kubernetesAPIServerPort": 6443, "externalKubernetesAPIEndpoint": "https://edge.io",
                                 "token": "s3cret-token"},
                  "type": "virtual", "distribution": "k3s", "version": "v1.30.2",
                  "edgeRuntime": {"type": "kubeedge", "version": "1.18"}}},
        {"apiVersion": scope, "kind": "Workspace",
         "metadata": {"name": ws, "labels": {"scope.theriseunion.io/cluster": cluster}},
         "spec": {"displayName": "Shop floor", "description": "Line 1", "manager": "alice",
                  "template": {"namespaces": ["line-1", "line-2"],
                               "resourceQuotas": {"hard": {"cpu": "8", "memory": "16Gi"}}}}},
        {"apiVersion": scope, "kind": "NodeGroup",
         "metadata": {"name": ng, "labels": {"scope.theriseunion.io/cluster": cluster}},
         "spec": {"displayName": "Cameras", "description": "GPU boxes",
                  "selector": {"matchLabels": {"site": "bj"},
                               "matchExpressions": [{"key": "gpu", "operator": "In", "values": ["a10", "t4"]},
                                                    {"key": "edge", "operator": "Exists"}]},
                  "template": {"labels": {"tier": "edge"}, "annotations": {"owner": "ops"},
                               "taints": [{"key": "edge", "value": "true", "effect": "NoSchedule"},
                                          {"key": "gpu", "effect": "PreferNoSchedule"}]}}},
        {"apiVersion": iam, "kind": "Category", "metadata": {"name": f"{prefix}-cat"},
         "spec": {"displayName": {"zh-CN": "存储", "en-US": "Storage"}, "description": {"en-US": "Disks"},
                  "icon": "database"}},
        {"apiVersion": iam, "kind": "RoleTemplate",
         "metadata": {"name": f"{prefix}-tpl",
                      "labels": {"iam.theriseunion.io/scope": "workspace",
                                 "iam.theriseunion.io/category": f"{prefix}-cat",
                                 "iam.theriseunion.io/aggregate-to-viewer": ""},
                      "annotations": {"theriseunion.io/alias-name": "Watch pods",
                                      "iam.theriseunion.io/dependencies": "workspace-view-basic"}},
         "spec": {"rules": rules, "uiPermissions": ["workspace/applications.view", "workload/deployment/*"],
                  "displayName": {"en-US": "Watch pods"}, "description": {"en-US": "Read workloads"}}},
        {"apiVersion": iam, "kind": "IAMRole",
         "metadata": {"name": f"{prefix}-role",
                      "labels": {"iam.theriseunion.io/scope": "workspace",
                                 "iam.theriseunion.io/scope-value": ws,
                                 "scope.theriseunion.io/cluster": cluster}},
         "spec": {"rules": rules[:1], "uiPermissions": ["workspace/members.view"],
                  "displayName": {"en-US": "Watcher"},
                  "aggregationRoleTemplates": {
                      "templateNames": [f"{prefix}-tpl"],
                      "roleSelector": {"matchLabels": {"iam.theriseunion.io/aggregate-to-viewer": ""},
                                       "matchExpressions": [{"key": "iam.theriseunion.io/scope",
                                                             "operator": "In", "values": ["workspace"]}]}}}},
        {"apiVersion": iam, "kind": "User",
         "metadata": {"name": f"{prefix}-user", "labels": {"team": "ops"},
                      "annotations": {"theriseunion.io/description": "operator"}},
         "spec": {"email": "ops@example.com", "displayName": "Ops Person", "description": "on call",
                  "lang": "zh-CN", "groups": [f"{prefix}-ops"], "password": "Edge-Sync-Passw0rd!"}},
        {"apiVersion": iam, "kind": "IAMRoleBinding",
         "metadata": {"name": f"{prefix}-binding",
                      "labels": {"iam.theriseunion.io/scope": "workspace",
                                 "iam.theriseunion.io/scope-value": ws,
                                 "scope.theriseunion.io/cluster": cluster}},
         "spec": {"roleRef": {"apiGroup": "iam.theriseunion.io", "kind": "IAMRole", "name": f"{prefix}-role"},
                  "subjects": [{"kind": "User", "name": f"{prefix}-user", "apiGroup": "iam.theriseunion.io"},
                               {"kind": "Group", "name": f"{prefix}-ops", "apiGroup": "iam.theriseunion.io"},
                               {"kind": "ServiceAccount", "name": "ci", "namespace": "line-1"}]}},
    ]


def manifests_from_the_api(platform, api, prefix: str = "crdtest") -> list[dict]:
    """Create the rich objects through the API, give them a status the way the platform does, read them back."""
    from clusters.models import Cluster, NodeGroup, Workspace
    from iam.models import User

    admin = api(platform.user(f"{prefix}-admin", superuser=True))
    out = []
    for manifest in rich_manifests(prefix):
        response = admin.post(url(manifest["kind"]), manifest)
        assert response.status_code == 201, response.json()
    ready = [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "all good",
              "lastTransitionTime": "2026-01-02T03:04:05Z", "observedGeneration": 1}]
    Cluster.objects.filter(name=f"{prefix}-edge").update(status={
        "conditions": ready, "kubernetesVersion": "v1.30.2", "nodeCount": 3, "region": "cn-north",
        "zones": ["a", "b"], "observedGeneration": 1})
    Workspace.objects.filter(name=f"{prefix}-ws").update(status={
        "phase": "Active", "conditions": ready, "memberCount": 2, "namespaceCount": 2})
    NodeGroup.objects.filter(name=f"{prefix}-ng").update(status={"phase": "Ready", "conditions": ready})
    User.objects.filter(name=f"{prefix}-user").update(last_login=timezone.now())
    for manifest in rich_manifests(prefix):
        if manifest["kind"] == "Group":
            continue
        response = admin.get(f"{url(manifest['kind'])}/{manifest['metadata']['name']}")
        assert response.status_code == 200
        out.append(response.json())
    return out


@pytest.fixture
def host(kube):
    with override_settings(EDGE_KUBECONFIG=str(kube.kubeconfig_path)):
        yield gateway.host_client()


def test_there_is_one_crd_per_platform_kind_with_a_converter():
    kinds = {(c.group, c.kind) for c in crds.crd_kinds()}
    assert kinds == EXPECTED_KINDS
    for crd in crds.crds():
        spec = crd["spec"]
        assert spec["scope"] == "Cluster"
        assert "edge" in spec["names"]["categories"]
        assert [v["name"] for v in spec["versions"]] == ["v1alpha1"]
        assert spec["versions"][0]["additionalPrinterColumns"][-1]["name"] == "Age"
    by_kind = {c["spec"]["names"]["kind"]: c for c in crds.crds()}
    assert by_kind["Workspace"]["spec"]["names"]["shortNames"] == ["ws"]
    assert by_kind["Cluster"]["spec"]["versions"][0]["subresources"] == {"status": {}}
    assert "subresources" not in by_kind["Category"]["spec"]["versions"][0]  # the kind has no status


def test_committed_files_are_exactly_what_the_converters_generate():
    assert crds.stale_files() == [], "run `manage.py install_crds --write deploy/crds`"


def test_schemas_are_structural():
    """Every node has a type, except where unknown fields are preserved (kube-apiserver's structural rule)."""
    def walk(node, where):
        if node.get("x-kubernetes-preserve-unknown-fields"):
            return
        assert "type" in node, where
        for name, child in (node.get("properties") or {}).items():
            walk(child, f"{where}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{where}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{where}{{}}")

    for crd in crds.crds():
        walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], crd["metadata"]["name"])


def _install_and_check(kube, host, platform, api, prefix):
    call_command("install_crds")
    for crd in crds.crds():
        stored = gateway.get(host, *CRD, crd["metadata"]["name"])
        assert crds.established(stored) is True
    manifests = manifests_from_the_api(platform, api, prefix)
    assert {(m["apiVersion"].split("/")[0], m["kind"]) for m in manifests} == EXPECTED_KINDS
    created = []
    try:
        for manifest in manifests:
            # WHEN the API's manifest is applied as a custom resource (its status through the subresource)
            stored = gateway.apply(host, manifest, field_manager="crd-test")
            created.append(manifest)
            if "status" in manifest:
                stored = gateway.apply(host, manifest, field_manager="crd-test", subresource="status")
            # THEN nothing was pruned or rejected
            what = f"{manifest['kind']} {manifest['metadata']['name']}"
            assert stored["spec"] == manifest["spec"], what
            assert stored.get("status") == manifest.get("status"), what
            assert stored["metadata"].get("labels") == manifest["metadata"].get("labels"), what
            assert stored["metadata"].get("annotations") == manifest["metadata"].get("annotations"), what
    finally:
        if not kube.emulated:
            for manifest in reversed(created):
                gateway.ensure_absent(host, manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"])
    return manifests


def test_every_kinds_api_manifest_validates_against_its_crd(kube, host, platform, api):
    manifests = _install_and_check(kube, host, platform, api, "crdtest")
    # secrets stay out of the custom resource: the API never shows them
    cluster = next(m for m in manifests if m["kind"] == "Cluster")
    assert "token" not in cluster["spec"]["connection"]
    applies = [r for r in kube.requests if r.method == "PATCH" and "/theriseunion.io" not in r.path
               and ".theriseunion.io/" in r.path]
    assert len(applies) == len(manifests) + sum("status" in m for m in manifests)
    assert {r.status for r in applies} <= {200, 201}


@pytest.mark.realcluster
def test_every_kinds_api_manifest_validates_against_its_crd_on_a_real_cluster(kube, host, platform, api):
    _install_and_check(kube, host, platform, api, "edge-crdtest")


def test_the_crd_refuses_what_the_api_refuses(kube, host):
    crds.install(host)
    with pytest.raises(gateway.KubeError) as caught:
        gateway.apply(host, {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "RoleTemplate",
                             "metadata": {"name": "broken"}, "spec": {"rules": [{"resources": ["pods"]}],
                                                                      "uiPermissions": ["not a permission"]}})
    assert caught.value.status == 422
    fields = {c["field"] for c in caught.value.causes}
    assert {"spec.rules[0].verbs", "spec.uiPermissions[0]"} <= fields


def test_install_is_idempotent_and_waits_for_established(kube, host):
    first = crds.install(host)
    assert all(r["changed"] and r["established"] for r in first)
    versions = {r["name"]: r["resourceVersion"] for r in first}
    second = crds.install(host)
    assert [r["changed"] for r in second] == [False] * len(second)
    assert {r["name"]: r["resourceVersion"] for r in second} == versions
    served = host.request("GET", "/apis/iam.theriseunion.io/v1alpha1")
    assert {r["kind"] for r in served["resources"]} >= {"IAMRole", "User", "RoleTemplate"}


def test_install_crds_without_a_host_cluster_says_so(monkeypatch):
    from django.core.management.base import CommandError

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with override_settings(EDGE_KUBECONFIG=""), pytest.raises(CommandError, match="no host cluster"):
        call_command("install_crds")


def test_check_reports_a_stale_file(tmp_path):
    from django.core.management.base import CommandError

    call_command("install_crds", write=str(tmp_path))
    assert len(list(tmp_path.glob("*.yaml"))) == len(EXPECTED_KINDS)
    call_command("install_crds", check=str(tmp_path))
    path = tmp_path / "scope.theriseunion.io_clusters.yaml"
    path.write_text(path.read_text().replace("k3s", "k9s"))
    with pytest.raises(CommandError, match=r"scope\.theriseunion\.io_clusters\.yaml"):
        call_command("install_crds", check=str(tmp_path))
