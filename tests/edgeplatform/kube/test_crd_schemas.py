"""The CRDs under deploy/crds: generated from the converters (and, for kinds without one yet, from their
declared descriptions), installed idempotently, and accepting every manifest the API produces — and, for the app
store and component kinds, reference-shaped manifests — without losing a field (the API server prunes what a
schema does not declare)."""
from __future__ import annotations

import copy
import io
import json

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from edgeplatform import kube as gateway
from edgeplatform.kube import crds
from edgeplatform.resources.converters import registered
from edgeplatform.resources.errors import flatten_drf_errors

CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
#: kinds with a converter: synced both ways
SYNCED_KINDS = {("iam.theriseunion.io", k) for k in ("RoleTemplate", "IAMRole", "IAMRoleBinding", "User",
                                                       "Category")} | \
               {("scope.theriseunion.io", k) for k in ("Cluster", "Workspace", "NodeGroup")} | \
               {("ext.theriseunion.io", "Component")} | \
               {("app.theriseunion.io", k) for k in ("AppCategory", "Application", "ApplicationVersion",
                                                       "ApplicationDeployment")}
#: synced kinds whose round trip through the API is checked elsewhere (tests/components/test_sync.py: a namespaced
#: kind whose cluster is its namespace; tests/appstore/test_sync.py: the app store's kinds, which name each other)
SYNCED_ELSEWHERE = {("ext.theriseunion.io", "Component")} | {kind for kind in SYNCED_KINDS
                                                              if kind[0] == "app.theriseunion.io"}
#: namespaced synced kinds: name → short names
NAMESPACED_SYNCED = {"Component": ["comp"], "ApplicationDeployment": ["appd"]}
#: kinds with a CRD and no converter yet: name → (group, scope, short names)
DECLARED_KINDS = {
    "LoginRecord": ("iam.theriseunion.io", "Cluster", None),
}
EXPECTED_KINDS = SYNCED_KINDS | {(group, kind) for kind, (group, _, _) in DECLARED_KINDS.items()}


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


def test_there_is_one_crd_per_platform_kind():
    assert {(c.group, c.kind) for c in crds.crd_kinds()} == SYNCED_KINDS
    assert {(c["spec"]["group"], c["spec"]["names"]["kind"]) for c in crds.crds()} == EXPECTED_KINDS
    for crd in crds.crds():
        spec = crd["spec"]
        kind = spec["names"]["kind"]
        assert spec["scope"] == (DECLARED_KINDS[kind][1] if kind in DECLARED_KINDS
                                 else "Namespaced" if kind in NAMESPACED_SYNCED else "Cluster"), kind
        assert "edge" in spec["names"]["categories"]
        assert [v["name"] for v in spec["versions"]] == ["v1alpha1"]
        assert spec["versions"][0]["additionalPrinterColumns"][-1]["name"] == "Age"
    by_kind = {c["spec"]["names"]["kind"]: c for c in crds.crds()}
    assert by_kind["Workspace"]["spec"]["names"]["shortNames"] == ["ws"]
    assert by_kind["Cluster"]["spec"]["versions"][0]["subresources"] == {"status": {}}
    assert "subresources" not in by_kind["Category"]["spec"]["versions"][0]  # the kind has no status
    assert by_kind["AppCategory"]["spec"]["names"]["shortNames"] == ["appcat"]
    assert "subresources" not in by_kind["AppCategory"]["spec"]["versions"][0]
    for kind, short_names in [*((k, v[2]) for k, v in DECLARED_KINDS.items()), *NAMESPACED_SYNCED.items()]:
        assert by_kind[kind]["spec"]["names"].get("shortNames") == short_names, kind
        assert by_kind[kind]["spec"]["versions"][0]["subresources"] == {"status": {}}, kind


def test_declared_kinds_are_not_synced(host):
    """GIVEN kinds that have a CRD but no database table yet, THEN neither CRD sync nor kubewatch touches them."""
    from edgeplatform.kube import sync
    from edgeplatform.kube.watch import Watcher

    assert not {(c.group, c.kind) for c in crds.crd_kinds()} & {(d.group, d.kind) for d in crds.declared()}
    assert {c.kind for c in crds.crd_kinds()} == set(Watcher(host).kinds) == {kind for _, kind in SYNCED_KINDS}
    for kind in DECLARED_KINDS:
        assert sync.converter_of(kind) is None
        with pytest.raises(ValueError, match="has no custom resource"):
            sync.sync_object(kind, "anything", client=host)


def test_committed_files_are_exactly_what_the_code_generates():
    assert {p.name for p in crds.CRD_DIR.glob("*.yaml")} >= {
        "app.theriseunion.io_applications.yaml", "app.theriseunion.io_applicationversions.yaml",
        "app.theriseunion.io_applicationdeployments.yaml", "ext.theriseunion.io_components.yaml",
        "iam.theriseunion.io_loginrecords.yaml"}
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


def _schema_nodes(node, where):
    """Every schema node of a CRD schema, with its path."""
    yield where, node
    for name, child in (node.get("properties") or {}).items():
        yield from _schema_nodes(child, f"{where}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _schema_nodes(node["items"], f"{where}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _schema_nodes(node["additionalProperties"], f"{where}{{}}")


def _empty_values(value, where=""):
    """Paths of every empty map or list (and empty string) anywhere in a document."""
    if isinstance(value, dict):
        if not value:
            yield where
        for key, child in value.items():
            yield from _empty_values(child, f"{where}.{key}")
    elif isinstance(value, list):
        if not value:
            yield where
        for index, child in enumerate(value):
            yield from _empty_values(child, f"{where}[{index}]")
    elif value == "":
        yield where


def test_no_crd_carries_an_empty_field_the_api_server_would_drop():
    """GIVEN the committed CRD files, THEN none holds an empty ``properties`` (or any other empty map or list but
    the status subresource's ``{}``, which the API server keeps): what the file says is what the server stores."""
    import yaml

    for path in sorted(crds.CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        kept = [".spec.versions[0].subresources.status"] if "subresources" in crd["spec"]["versions"][0] else []
        assert list(_empty_values(crd)) == kept, path.name
        for where, node in _schema_nodes(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], path.name):
            assert node.get("properties", True) != {}, where


def test_settled_spells_out_the_api_servers_defaulting_and_dropping():
    """``settled()`` is what the checks below rely on: it must drop what kube-apiserver drops and add what it
    defaults, or a generator emitting either would pass unnoticed."""
    crd = {"apiVersion": crds.CRD_API_VERSION, "kind": "CustomResourceDefinition",
           "metadata": {"name": "things.example.io", "labels": {}},
           "spec": {"group": "example.io", "scope": "Cluster", "names": {"kind": "Thing", "plural": "things",
                                                                          "shortNames": []},
                    "versions": [{"name": "v1", "served": True, "storage": True, "deprecated": False,
                                  "subresources": {"status": {}},
                                  "additionalPrinterColumns": [{"name": "Age", "type": "date", "priority": 0,
                                                                "jsonPath": ".metadata.creationTimestamp"}],
                                  "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                      "spec": {"type": "object", "properties": {}, "required": []},
                                      "count": {"type": "integer", "minimum": 0, "description": ""},
                                      "on": {"type": "boolean", "default": False, "nullable": False}}}}}]}}
    stored = crds.settled(crd)
    assert stored["metadata"] == {"name": "things.example.io"}
    assert stored["spec"]["names"] == {"kind": "Thing", "plural": "things", "singular": "thing",
                                       "listKind": "ThingList"}
    assert stored["spec"]["conversion"] == {"strategy": "None"}
    version = stored["spec"]["versions"][0]
    assert "deprecated" not in version and version["subresources"] == {"status": {}}
    assert version["additionalPrinterColumns"] == [{"name": "Age", "type": "date",
                                                    "jsonPath": ".metadata.creationTimestamp"}]
    assert version["schema"]["openAPIV3Schema"]["properties"] == {
        "spec": {"type": "object"}, "count": {"type": "integer", "minimum": 0},
        "on": {"type": "boolean", "default": False}}


def test_the_generator_emits_exactly_what_the_api_server_stores():
    for crd in crds.crds():
        assert crds.settled(crd) == crd, crd["metadata"]["name"]
        assert crd["spec"]["conversion"] == {"strategy": "None"}


def test_every_field_is_described_for_kubectl_explain():
    """GIVEN every CRD, THEN every field (spec, status, their nested fields) has a description; spec field
    descriptions are the serializers' help_text, the one place they are written."""
    from clusters.manifests import ClusterSpecSerializer

    for crd in crds.crds():
        kind = crd["spec"]["names"]["kind"]
        root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert root["description"], kind
        for where, node in _schema_nodes(root, kind):
            for name, child in (node.get("properties") or {}).items():
                assert child.get("description"), f"{where}.{name}"
    cluster = next(c for c in crds.crds() if c["spec"]["names"]["kind"] == "Cluster")
    spec = cluster["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    fields = ClusterSpecSerializer().fields
    assert spec["properties"]["type"]["description"] == fields["type"].help_text
    assert spec["properties"]["connection"]["properties"]["token"]["description"] == \
        fields["connection"].fields["token"].help_text


def _install_and_check(kube, host, platform, api, prefix):
    call_command("install_crds")
    for crd in crds.crds():
        stored = gateway.get(host, *CRD, crd["metadata"]["name"])
        assert crds.established(stored) is True
    manifests = manifests_from_the_api(platform, api, prefix)
    assert {(m["apiVersion"].split("/")[0], m["kind"]) for m in manifests} == SYNCED_KINDS - SYNCED_ELSEWHERE
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


def _crd_writes(kube) -> list:
    return [r for r in kube.requests.writes() if "/customresourcedefinitions" in r.path]


def test_a_second_install_writes_nothing_and_reports_every_crd_unchanged(kube, host):
    call_command("install_crds")
    kube.requests.clear()
    out = io.StringIO()
    call_command("install_crds", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(EXPECTED_KINDS)
    assert all(line.endswith(": established (unchanged)") for line in lines), lines
    assert _crd_writes(kube) == []


def test_install_compares_crds_as_the_api_server_stores_them(kube, host):
    """GIVEN CRDs stored with what an API server adds (status, managed fields, another manager's annotation) and
    without the generator's defaults spelled out, WHEN installing, THEN nothing is reported changed or written."""
    crds.install(host)
    for crd in crds.crds():
        stored = gateway.get(host, *CRD, crd["metadata"]["name"])
        assert stored["spec"] == crd["spec"]  # the emulator stores what it is given
        assert crds.up_to_date(stored, crd)
        # a server that defaulted conversion itself, and someone else's annotation: still up to date
        trimmed = copy.deepcopy(stored)
        del trimmed["spec"]["conversion"]
        trimmed["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
        assert crds.up_to_date(trimmed, crd)
    kube.requests.clear()
    assert not any(r["changed"] for r in crds.install(host))
    assert _crd_writes(kube) == []


def test_install_rewrites_a_crd_that_differs(kube, host):
    """GIVEN a stored CRD from an older generator (another description, an empty ``properties``), WHEN installing,
    THEN that one CRD is applied and reported changed, and then equals the generated one."""
    crds.install(host)
    cluster = next(c for c in crds.crds() if c["spec"]["names"]["kind"] == "Cluster")
    older = copy.deepcopy(cluster)
    schema = older["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["description"] = "an older description"
    schema["properties"]["spec"]["properties"]["provider"] = {"type": "object", "properties": {}}
    gateway.apply(host, older, force=True)
    assert not crds.up_to_date(gateway.get(host, *CRD, cluster["metadata"]["name"]), cluster)
    kube.requests.clear()
    results = {r["name"]: r["changed"] for r in crds.install(host)}
    assert [name for name, changed in results.items() if changed] == [cluster["metadata"]["name"]]
    assert len(_crd_writes(kube)) == 1
    assert crds.up_to_date(gateway.get(host, *CRD, cluster["metadata"]["name"]), cluster)


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


# --- the app store and component kinds (no converter yet) --------------------------------------------------------

APP, EXT = "app.theriseunion.io/v1alpha1", "ext.theriseunion.io/v1alpha1"
READY = [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "all good",
          "lastTransitionTime": "2026-01-02T03:04:05Z", "observedGeneration": 1}]
APP_NAMESPACE, COMPONENT_NAMESPACE = "shop", "edge-system"
POD_TEMPLATE = {"metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}}


def reference_manifests() -> dict[str, dict]:
    """One manifest per field list of REFERENCE-API (app.theriseunion.io, ext.theriseunion.io), every field used,
    with a status as the platform would write it; keyed by a short name."""
    return {
        "application": {
            "apiVersion": APP, "kind": "Application",
            "metadata": {"name": "nginx",
                         "labels": {"app.theriseunion.io/provisioner": "workload",
                                    "app.theriseunion.io/category": "web", "theriseunion.io/workspace": "shop"},
                         "annotations": {"theriseunion.io/display-name": "Nginx",
                                         "theriseunion.io/description": "A web server"}},
            "spec": {},
            "status": {"phase": "Active", "conditions": READY, "latestVersion": "1.0.0", "versionCount": 2}},
        "workload-version": {
            "apiVersion": APP, "kind": "ApplicationVersion", "metadata": {"name": "nginx-v1.0.0"},
            "spec": {"applicationRef": "nginx", "version": "1.0.0", "workloadConfig": {"deployments": [
                {"name": "nginx", "spec": {
                    "replicas": 2, "minReadySeconds": 5,  # not declared: kept, for the provisioner to check
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                    "template": POD_TEMPLATE}}]}},
            "status": {"phase": "Available", "conditions": READY, "reviewPhase": "Approved", "reviewer": "admin",
                       "reviewTime": "2026-01-03T00:00:00Z", "reviewMessage": "looks good", "submitter": "dev",
                       "submitTime": "2026-01-02T00:00:00Z"}},
        "helm-version": {
            "apiVersion": APP, "kind": "ApplicationVersion", "metadata": {"name": "redis-v7.2.4"},
            "spec": {"applicationRef": "redis", "version": "7.2.4", "helmConfig": {
                "chartName": "redis", "chartVersion": "18.1.0",
                "repository": "http://chartmuseum.edge-system.svc:8080",
                "values": "architecture: standalone\nauth:\n  enabled: false\n"}},
            "status": {"phase": "Pending", "reviewPhase": "Pending", "submitter": "dev",
                       "submitTime": "2026-01-02T00:00:00Z"}},
        "model-version": {
            "apiVersion": APP, "kind": "ApplicationVersion", "metadata": {"name": "yolo-v8.0.0"},
            "spec": {"applicationRef": "yolo", "version": "8.0.0", "modelConfig": {
                "modelName": "yolov8", "modelVersion": "8.0", "storageURI": "s3://models/yolov8.zip",
                "framework": "PyTorch", "runtime": "TorchServe", "replicas": 1, "gpu": 1, "cpuRequest": "1000m",
                "memoryRequest": "2Gi"}},
            "status": {"reviewPhase": "Rejected", "reviewer": "admin", "reviewMessage": "no GPU nodes"}},
        "deployment": {
            "apiVersion": APP, "kind": "ApplicationDeployment",
            "metadata": {"name": "nginx-shop", "namespace": APP_NAMESPACE},
            "spec": {"application": "nginx", "version": "latest", "topologies": [
                {"cluster": "edge-bj-01", "nodeGroup": "cameras", "replicas": 2, "workloadOverride": {
                    "deployments": [{"name": "nginx", "spec": {"replicas": 2, "template": {
                        "spec": {"nodeSelector": {"gpu": "t4"}}}}}]}},
                {"nodeName": "node-7", "workloadOverride": {"deployments": []}}]},
            "status": {
                "applicationVersion": "1.0.0", "phase": "Running", "message": "2 of 2 topologies ready",
                "conditions": READY, "readyStatus": "3/3", "readyReplicas": 3, "totalReplicas": 3,
                "topologyStatuses": [{"topology": {"nodeGroup": "cameras", "replicas": 2}, "topologyIndex": 0,
                                      "workloadName": "nginx-shop-0", "replicas": 2, "readyReplicas": 2,
                                      "nodes": ["cam-1", "cam-2"], "phase": "Running", "message": ""},
                                     {"topology": {"nodeName": "node-7"}, "topologyIndex": 1,
                                      "workloadName": "nginx-shop-1", "replicas": 1, "readyReplicas": 1,
                                      "nodes": ["node-7"], "phase": "Running"}],
                "history": [{"toVersion": "0.9.0", "reason": "Initial", "timestamp": "2026-01-01T00:00:00Z",
                             "operator": "dev", "message": "first install"},
                            {"toVersion": "1.0.0", "fromVersion": "0.9.0", "reason": "Upgrade",
                             "timestamp": "2026-01-04T00:00:00Z", "operator": "dev"}]}},
        "component": {
            "apiVersion": EXT, "kind": "Component",
            "metadata": {"name": "iot-apiserver", "namespace": COMPONENT_NAMESPACE,
                         "labels": {"app.kubernetes.io/part-of": "iot-platform"},
                         "annotations": {"ext.theriseunion.io/skip-reconcile": "false"}},
            "spec": {"enabled": True, "version": "0.1.0",
                     "chart": {"name": "iot-apiserver", "namespace": "edge-system", "releaseName": "iot-apiserver",
                               "repository": "http://chartmuseum.edge-system.svc:8080"},
                     "values": {"replicaCount": 1, "service": {"type": "ClusterIP", "port": 8080}},
                     "dependsOn": ["iot-controller"]},
            "status": {"phase": "Installed", "message": "release deployed", "conditions": READY,
                       "observedHash": "3f2a9c", "releaseName": "iot-apiserver", "releaseVersion": 3,
                       "retryCount": 0, "lastFailureTime": "2026-01-02T00:00:00Z"}},
    }


def spec_serializer(kind: str):
    """The spec serializer a declared kind's CRD is generated from (the one its API will validate with)."""
    return next(d for d in crds.definitions() if d.kind == kind).serializer().__class__


def api_causes(manifest: dict) -> tuple[dict | None, set[str]]:
    """(validated spec, fields refused) from the kind's spec serializer, fields named as the API names them."""
    serializer = spec_serializer(manifest["kind"])(data=manifest["spec"])
    if serializer.is_valid():
        return json.loads(json.dumps(serializer.validated_data)), set()
    return None, {c["field"] for c in flatten_drf_errors(serializer.errors, "spec")}


def _namespaces(host):
    for name in (APP_NAMESPACE, COMPONENT_NAMESPACE):
        gateway.apply(host, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                      field_manager="crd-test")


def _create_reference_manifests(kube, host):
    crds.install(host)
    _namespaces(host)
    created = []
    try:
        for key, manifest in reference_manifests().items():
            # WHEN the reference-shaped manifest is created as a custom resource, then its status written
            stored = gateway.apply(host, manifest, field_manager="crd-test")
            created.append(manifest)
            stored = gateway.apply(host, manifest, field_manager="crd-test", subresource="status")
            # THEN the API server kept every field
            assert stored["spec"] == manifest["spec"], key
            assert stored["status"] == manifest["status"], key
            assert stored["metadata"].get("labels") == manifest["metadata"].get("labels"), key
            assert stored["metadata"].get("annotations") == manifest["metadata"].get("annotations"), key
            assert stored["metadata"].get("namespace") == manifest["metadata"].get("namespace"), key
    finally:
        if not kube.emulated:
            for m in reversed(created):
                gateway.ensure_absent(host, m["apiVersion"], m["kind"], m["metadata"]["name"],
                                      m["metadata"].get("namespace"))


def test_reference_shaped_manifests_are_created_by_their_crds(kube, host):
    _create_reference_manifests(kube, host)
    # namespaced kinds live in their namespace, cluster-scoped ones at the root
    assert [o["metadata"]["name"] for o in kube.objects("components", namespace=COMPONENT_NAMESPACE)] == \
        ["iot-apiserver"]
    assert [o["metadata"]["name"] for o in kube.objects("applicationdeployments", namespace=APP_NAMESPACE)] == \
        ["nginx-shop"]
    assert kube.objects("applicationdeployments", namespace="default") == []
    assert len(kube.objects("applicationversions")) == 3
    served = host.request("GET", "/apis/app.theriseunion.io/v1alpha1")
    scoped = {r["kind"]: r["namespaced"] for r in served["resources"] if "/" not in r["name"]}
    assert scoped == {"AppCategory": False, "Application": False, "ApplicationVersion": False,
                      "ApplicationDeployment": True}


@pytest.mark.realcluster
def test_reference_shaped_manifests_are_created_by_their_crds_on_a_real_cluster(kube, host):
    _create_reference_manifests(kube, host)


def test_reference_shaped_specs_pass_the_spec_serializers_unchanged():
    """The serializers the later API validates with accept the same manifests, and drop nothing from them."""
    for key, manifest in reference_manifests().items():
        validated, refused = api_causes(manifest)
        assert refused == set(), key
        assert validated == manifest["spec"], key


def _without(path: str):
    def change(manifest):
        *parents, leaf = path.split(".")
        node = manifest
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[leaf]
    return change


def _setting(path: str, value):
    def change(manifest):
        *parents, leaf = path.split(".")
        node = manifest
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[leaf] = value
    return change


# (sample, change, the field both the CRD and the spec serializer name)
REFUSED = [
    ("deployment", _without("spec.application"), "spec.application"),
    ("deployment", _without("spec.version"), "spec.version"),
    ("deployment", _setting("spec.version", "newest"), "spec.version"),
    ("deployment", _setting("spec.topologies.0.replicas", "two"), "spec.topologies[0].replicas"),
    ("deployment", _setting("spec.topologies.0.workloadOverride.deployments.0.spec.replicas", "two"),
     "spec.topologies[0].workloadOverride.deployments[0].spec.replicas"),
    ("workload-version", _without("spec.applicationRef"), "spec.applicationRef"),
    ("workload-version", _setting("spec.version", "1.0"), "spec.version"),
    ("workload-version", _without("spec.workloadConfig.deployments.0.spec.template"),
     "spec.workloadConfig.deployments[0].spec.template"),
    ("workload-version", _without("spec.workloadConfig.deployments.0.name"),
     "spec.workloadConfig.deployments[0].name"),
    ("helm-version", _without("spec.helmConfig.chartName"), "spec.helmConfig.chartName"),
    ("helm-version", _setting("spec.helmConfig.values", {"auth": {"enabled": False}}), "spec.helmConfig.values"),
    ("model-version", _without("spec.modelConfig.storageURI"), "spec.modelConfig.storageURI"),
    ("model-version", _setting("spec.modelConfig.gpu", -1), "spec.modelConfig.gpu"),
    ("model-version", _setting("spec.modelConfig.memoryRequest", "two gigs"), "spec.modelConfig.memoryRequest"),
    ("component", _setting("spec.enabled", "maybe"), "spec.enabled"),
    ("component", _setting("spec.values", "replicaCount: 1"), "spec.values"),
    ("component", _setting("spec.dependsOn", "iot-controller"), "spec.dependsOn"),
    ("component", _setting("spec.chart.repository", "chartmuseum"), "spec.chart.repository"),
]


@pytest.mark.parametrize(("sample", "change", "field"), REFUSED, ids=[f"{s}-{f}" for s, _, f in REFUSED])
def test_the_crd_and_the_spec_serializer_refuse_a_missing_or_mistyped_field(kube, host, sample, change, field):
    manifest = copy.deepcopy(reference_manifests()[sample])
    manifest.pop("status")
    change(manifest)
    assert field in api_causes(manifest)[1]
    crds.install(host)
    _namespaces(host)
    with pytest.raises(gateway.KubeError) as caught:
        gateway.apply(host, manifest, field_manager="crd-test")
    assert caught.value.status == 422
    assert field in {c["field"] for c in caught.value.causes}
    plural = next(d.plural for d in crds.definitions() if d.kind == manifest["kind"])
    assert kube.objects(plural, namespace=manifest["metadata"].get("namespace")) == []


def test_a_status_of_the_wrong_shape_is_refused(kube, host):
    crds.install(host)
    manifest = reference_manifests()["application"]
    gateway.apply(host, manifest, field_manager="crd-test")
    with pytest.raises(gateway.KubeError) as caught:
        gateway.apply(host, {**manifest, "status": {"versionCount": "two", "conditions": [{"type": "Ready"}]}},
                      field_manager="crd-test", subresource="status")
    assert caught.value.status == 422
    assert {c["field"] for c in caught.value.causes} >= {"status.versionCount", "status.conditions[0].status"}


def test_defaults_match_the_reference():
    """``enabled`` and ``chart.namespace`` default as in the reference: in the API and in the CRD alike."""
    validated, _ = api_causes({"kind": "Component", "spec": {"chart": {"name": "traefik"}}})
    assert validated == {"enabled": True, "chart": {"name": "traefik", "namespace": "edge-system"}}
    spec = next(c for c in crds.crds() if c["spec"]["names"]["kind"] == "Component")["spec"]["versions"][0]
    properties = spec["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert properties["enabled"]["default"] is True
    assert properties["chart"]["properties"]["namespace"]["default"] == "edge-system"


@pytest.mark.parametrize(("version", "ok"), [
    ("latest", True), ("1.2.3", True), ("v1.2.3", True), ("1.2.3-rc.1+build.5", True), ("^1.2", True),
    ("~1.2.3", True), ("^1", True), ("1.2", False), ("01.2.3", False), ("latest-ish", False), (">=1.0.0", False),
    ("", False)])
def test_a_deployment_asks_for_latest_an_exact_version_or_a_range(version, ok):
    manifest = {"kind": "ApplicationDeployment", "spec": {"application": "nginx", "version": version}}
    assert (api_causes(manifest)[1] == set()) is ok


@pytest.mark.parametrize(("spec", "field"), [
    ({"applicationRef": "nginx", "version": "1.0.0", "modelConfig": {
        "modelName": "m", "modelVersion": "1", "storageURI": "s3://m"},
      "helmConfig": {"chartName": "c", "chartVersion": "1.0.0", "repository": "http://c"}}, "spec.helmConfig"),
    ({"applicationRef": "nginx", "version": "1.0.0", "workloadConfig": {"deployments": []}},
     "spec.workloadConfig.deployments"),
    ({"applicationRef": "nginx", "version": "1.0.0", "workloadConfig": {"deployments": [
        {"name": "web", "spec": {"template": {}}}, {"name": "web", "spec": {"template": {}}}]}},
     "spec.workloadConfig.deployments"),
    ({"applicationRef": "nginx", "version": "1.0.0", "helmConfig": {
        "chartName": "c", "chartVersion": "1.0.0", "repository": "http://c", "values": "- a list\n"}},
     "spec.helmConfig.values"),
    ({"applicationRef": "nginx", "version": "1.0.0", "helmConfig": {
        "chartName": "c", "chartVersion": "1.0.0", "repository": "http://c", "values": "a: [unclosed"}},
     "spec.helmConfig.values"),
])
def test_the_version_serializer_checks_what_a_schema_cannot(spec, field):
    assert field in api_causes({"kind": "ApplicationVersion", "spec": spec})[1]


def test_the_deployment_and_component_serializers_check_what_a_schema_cannot():
    both = {"application": "nginx", "version": "latest", "topologies": [{"nodeGroup": "cams", "nodeName": "n1"}]}
    assert api_causes({"kind": "ApplicationDeployment", "spec": both})[1] == {"spec.topologies[0].nodeName"}
    twice = {"dependsOn": ["iot-controller", "iot-controller"]}
    assert api_causes({"kind": "Component", "spec": twice})[1] == {"spec.dependsOn"}


# --- LoginRecord (REFERENCE-API; a declared kind: the platform records logins in its audit log) -----------------

LOGIN_RECORD = {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "LoginRecord",
                "metadata": {"name": "admin-7x2kq", "labels": {"iam.theriseunion.io/user-ref": "admin"}},
                "spec": {"type": "Password", "provider": "local", "sourceIP": "10.0.0.7", "success": False,
                         "reason": "invalid username or password", "userAgent": "Mozilla/5.0"}}


def test_a_reference_login_record_is_kept_whole_by_its_crd(kube, host):
    crds.install(host)
    stored = gateway.apply(host, LOGIN_RECORD, field_manager="crd-test")
    assert stored["spec"] == LOGIN_RECORD["spec"]
    assert stored["metadata"]["labels"] == LOGIN_RECORD["metadata"]["labels"]
    crd = gateway.get(host, *CRD, "loginrecords.iam.theriseunion.io")
    assert crd["spec"]["scope"] == "Cluster"
    assert [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]] == \
        ["Type", "Provider", "From", "Success", "Reason", "Age"]


@pytest.mark.parametrize(("change", "field"), [
    (lambda spec: spec.pop("success"), "spec.success"),
    (lambda spec: spec.pop("sourceIP"), "spec.sourceIP"),
    (lambda spec: spec.update(success="no"), "spec.success"),
])
def test_a_login_record_missing_a_required_field_is_refused(kube, host, change, field):
    crds.install(host)
    manifest = copy.deepcopy(LOGIN_RECORD)
    change(manifest["spec"])
    with pytest.raises(gateway.KubeError) as caught:
        gateway.apply(host, manifest, field_manager="crd-test")
    assert caught.value.status == 422
    assert field in {c["field"] for c in caught.value.causes}
    assert kube.objects("loginrecords") == []
