"""The ``helm`` provisioner end to end: real Helm (helm-python-sdk, in a spawned process as in production) against
an emulated member cluster reached through the platform's gateway, with rows made through the write path.

A topology is one release named after the deployment and the topology's key, holding the version's values with
the topology's overrides and placement; its status comes from the release and its workloads; pruning uninstalls
exactly the releases of the topologies left out; a release that fails shows Helm's message."""
from __future__ import annotations

import time

import pytest
import yaml

from appstore import provisioners
from appstore.provisioners.base import owns
from appstore.provisioners.helm import RELEASE_MAX, release_name
from charts import store
from edgeplatform import kube as gateway
from edgeplatform.controllers.errors import PermanentError, TemporaryError
from tests.appstore.provisioning import BASE, application, deployment, member, targets, version
from tests.components.conftest import helm_home, release_secrets  # noqa: F401  (a fixture, and a helper)
from tests.helm_repo import ChartRepoServer, package
from tests.paths import FIXTURES
from tests.support import ApiClient

CHART = FIXTURES / "charts" / "storefront"


def helm_config(**changes) -> dict:
    config = {"chartName": "storefront", "chartVersion": "1.0.0", "repository": "library",
              "values": "banner: spring sale\nimage: nginx:1.27\n"}
    return {**config, **changes}


@pytest.fixture
def shop(kube_clusters, platform, helm_home):  # noqa: F811
    """Cluster ``edge`` (node groups shop-1 and shop-2, a node each, and a cloud node), namespace ``retail``,
    the storefront chart 1.0.0 in ``library``, an application ``storefront`` of type helm."""
    emulator, cluster = member(kube_clusters, platform, groups=("shop-1", "shop-2"))
    platform.namespace("retail", "edge")
    store.put("library", package(CHART)[1])
    app = application(platform, "storefront", "helm")
    return emulator, cluster, app


def states(provisioner, found, client):
    """The status of every target (one call), by node group."""
    shown = provisioner.status(found, client)
    return {target.topology.get("nodeGroup"): shown[target.key] for target in found}


def test_each_topology_is_a_release_with_its_values_and_placement_and_pruning_removes_exactly_the_left_out_ones(
        shop, platform):
    emulator, cluster, app = shop
    provisioner = provisioners.get("helm")
    v1 = version(platform, app, "1.0.0", helmConfig=helm_config())
    row = deployment(platform, "storefront", "retail", app, [
        {"nodeGroup": "shop-1", "replicas": 2, "workloadOverride": {"values": {"banner": "shop one only"}}},
        {"nodeGroup": "shop-2"},
        {"nodeGroup": "__cloud__", "workloadOverride": {"values": "image: nginx:1.28\n"}}])
    found = targets(row, v1)
    client = gateway.member_client(cluster)
    names = {t.topology["nodeGroup"]: release_name("storefront", t.key) for t in found}

    # WHEN every topology is provisioned
    made = {t.topology["nodeGroup"]: provisioner.provision(t, client) for t in found}

    # THEN each is one release in the deployment's namespace, named after the deployment and the topology key
    assert {group: result.workloads for group, result in made.items()} == {g: [n] for g, n in names.items()}
    assert all(result.writes >= 1 for result in made.values())
    assert release_secrets(emulator, "retail") == sorted(f"sh.helm.release.v1.{n}.v1" for n in names.values())
    assert {owns("storefront", name, RELEASE_MAX) for name in names.values()} == {t.key for t in found}
    # AND its values are the version's, deep-merged with the topology's override, plus its placement
    one = emulator.object("deployments", names["shop-1"], "retail")
    assert one["spec"]["replicas"] == 2
    assert one["spec"]["template"]["spec"]["nodeSelector"] == {"theriseunion.io/nodegroup": "shop-1"}
    assert emulator.object("configmaps", names["shop-1"], "retail")["data"] == {"BANNER": "shop one only"}
    assert emulator.object("configmaps", names["shop-2"], "retail")["data"] == {"BANNER": "spring sale"}
    cloud = emulator.object("deployments", names["__cloud__"], "retail")["spec"]["template"]["spec"]
    assert "nodeSelector" not in cloud and cloud["containers"][0]["image"] == "nginx:1.28"
    terms = cloud["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {e["key"] for e in terms[0]["matchExpressions"]} == {"node-role.kubernetes.io/edge",
                                                               "openyurt.io/is-edge-worker"}
    # AND the release carries the deployment's labels
    secret = emulator.object("secrets", f"sh.helm.release.v1.{names['shop-1']}.v1", "retail")
    assert secret["metadata"]["labels"]["app.theriseunion.io/deployment"] == "storefront"
    assert secret["metadata"]["labels"]["app.theriseunion.io/version"] == "1.0.0"

    # WHEN the pods are up, THEN every topology is Running on its own nodes, read with one LIST per kind
    assert emulator.settle()
    emulator.requests.clear()
    shown = states(provisioner, found, client)
    assert emulator.requests.count_writes() == 0
    assert sorted(r.path for r in emulator.requests if "/namespaces/" in r.path) == [
        "/api/v1/namespaces/retail/pods", "/api/v1/namespaces/retail/secrets",
        "/apis/apps/v1/namespaces/retail/deployments"]
    assert {g: (s.phase, s.replicas, s.ready_replicas, s.nodes, s.version) for g, s in shown.items()} == {
        "shop-1": ("Running", 2, 2, ["shop-1-1"], "1.0.0"), "shop-2": ("Running", 1, 1, ["shop-2-1"], "1.0.0"),
        "__cloud__": ("Running", 1, 1, ["edge-cloud-1"], "1.0.0")}

    # WHEN provisioned again with nothing changed, THEN nothing is written and no revision is added
    emulator.requests.clear()
    assert [provisioner.provision(t, client).writes for t in found] == [0, 0, 0]
    assert emulator.requests.count_writes() == 0

    # WHEN a new version is provisioned on shop-1, THEN its release is upgraded to a second revision
    v2 = version(platform, app, "1.1.0", helmConfig=helm_config(values="banner: summer sale\nimage: nginx:1.28\n"))
    upgraded = next(t for t in targets(row, v2) if t.topology["nodeGroup"] == "shop-1")
    assert provisioner.provision(upgraded, client).writes == 1
    assert f"sh.helm.release.v1.{names['shop-1']}.v2" in release_secrets(emulator, "retail")
    assert emulator.object("configmaps", names["shop-1"], "retail")["data"] == {"BANNER": "shop one only"}
    spec = emulator.object("deployments", names["shop-1"], "retail")["spec"]
    assert (spec["replicas"], spec["template"]["spec"]["containers"][0]["image"]) == (2, "nginx:1.28")
    assert emulator.settle()
    assert provisioner.status([upgraded], client)[upgraded.key].version == "1.1.0"

    # WHEN shop-2 is left out, THEN only its release goes; WHEN everything goes, THEN nothing of it is left
    keep = frozenset(t.key for t in found if t.topology["nodeGroup"] != "shop-2")
    assert provisioner.unprovision(row, client, keep) == 1
    assert emulator.object("deployments", names["shop-2"], "retail") is None
    kept = [f"{names['__cloud__']}.v1", f"{names['shop-1']}.v1", f"{names['shop-1']}.v2"]
    assert release_secrets(emulator, "retail") == sorted(f"sh.helm.release.v1.{name}" for name in kept)
    assert states(provisioner, found, client)["shop-2"].phase == "Missing"
    assert provisioner.unprovision(row, client) == 2
    assert release_secrets(emulator, "retail") == []
    assert emulator.objects("deployments", namespace="retail") == []


def test_a_failed_install_shows_helms_message_and_the_next_version_from_a_repository_url_replaces_it(
        shop, platform, tmp_path):
    emulator, cluster, app = shop
    provisioner = provisioners.get("helm")
    bad = version(platform, app, "1.0.0", helmConfig=helm_config(values="invalid: true\n"))
    row = deployment(platform, "storefront", "retail", app, [{"nodeGroup": "shop-1"}])
    (target,) = targets(row, bad)
    client = gateway.member_client(cluster)
    name = release_name("storefront", target.key)

    # WHEN a version whose Deployment the API server refuses is provisioned
    provisioner.provision(target, client)
    # THEN the topology is Failed, with Helm's message naming what was refused
    state = provisioner.status([target], client)[target.key]
    assert state.phase == "Failed", state
    assert name in state.message and "selector" in state.message

    # WHEN a fixed version is taken from a chart repository named by URL
    repository = ChartRepoServer(tmp_path / "repo").add(CHART, version="1.1.0").start()
    try:
        fixed = version(platform, app, "1.1.0", helmConfig=helm_config(chartVersion="1.1.0",
                                                                       repository=repository.url))
        (target,) = targets(row, fixed)
        provisioner.provision(target, client)
    finally:
        repository.stop()
    # THEN the failed release made way for it, and it runs
    assert emulator.settle()
    state = provisioner.status([target], client)[target.key]
    assert (state.phase, state.version, state.workloads) == ("Running", "1.1.0", [name])
    assert release_secrets(emulator, "retail") == [f"sh.helm.release.v1.{name}.v1"]
    assert any(path.endswith("storefront-1.1.0.tgz") for path in repository.requests)


def test_a_chart_helm_cannot_render_is_permanent_and_a_missing_chart_is_retried(shop, platform):
    emulator, cluster, app = shop
    provisioner = provisioners.get("helm")
    row = deployment(platform, "storefront", "retail", app, [{"nodeGroup": "shop-1"}])
    client = gateway.member_client(cluster)
    broken = version(platform, app, "1.0.0", helmConfig=helm_config(values="replicaCount: {nested: map}\n"))
    (target,) = targets(row, broken)
    with pytest.raises(PermanentError) as failed:
        provisioner.provision(target, client)
    assert "storefront 1.0.0" in str(failed.value)
    # the platform's own repository named by its URL: read from the store, and a version it lacks is retried
    missing = version(platform, app, "2.0.0", helmConfig=helm_config(
        chartVersion="2.0.0", repository="http://testserver/chartrepo/library"))
    (target,) = targets(row, missing)
    emulator.requests.clear()
    with pytest.raises(TemporaryError) as retried:
        provisioner.provision(target, client)
    assert retried.value.reason == "ChartNotFound" and "library" in str(retried.value)
    assert release_secrets(emulator, "retail") == [] and emulator.requests.count_writes() == 0


def test_release_names_fit_helm_and_tell_their_deployment_exactly():
    key = "0123456789"
    assert release_name("storefront", key) == "storefront-0123456789"
    long_a, long_b = "a" * 60 + "-x", "a" * 60 + "-y"
    assert len(release_name(long_a, key)) <= 53 and release_name(long_a, key) != release_name(long_b, key)
    assert owns(long_a, release_name(long_a, key), RELEASE_MAX) == key
    assert owns(long_b, release_name(long_a, key), RELEASE_MAX) is None
    # a deployment whose name is another's with a suffix owns nothing of the other's
    assert owns("storefront", release_name("storefront-eu", key), RELEASE_MAX) is None
    assert owns("storefront-eu", release_name("storefront", key), RELEASE_MAX) is None


def test_versions_are_validated_by_the_provisioner_when_written(platform, helm_home):  # noqa: F811
    app = application(platform, "storefront", "helm")
    provisioner = provisioners.get("helm")
    assert provisioner.validate(helm_config()) == []
    fields = {c["field"]: c["message"] for c in provisioner.validate(
        {"chartName": "", "chartVersion": "one", "repository": "ftp://charts.example", "values": "- a list"})}
    assert set(fields) == {"spec.helmConfig.chartName", "spec.helmConfig.chartVersion",
                           "spec.helmConfig.repository", "spec.helmConfig.values"}
    admin = ApiClient.for_user(platform.user("root", superuser=True))
    body = {"apiVersion": "app.theriseunion.io/v1alpha1", "kind": "ApplicationVersion",
            "metadata": {"name": "storefront-1-0-0"},
            "spec": {"applicationRef": app.name, "version": "1.0.0",
                     "helmConfig": helm_config(repository="no-such-repository")}}
    refused = admin.post(f"{BASE}/applicationversions", body)
    assert refused.status_code == 422, refused.json()
    causes = refused.json()["details"]["causes"]
    assert [c["field"] for c in causes] == ["spec.helmConfig.repository"]
    assert "no-such-repository" in causes[0]["message"]
    body["spec"]["helmConfig"] = helm_config(repository="https://charts.example.com/stable")
    assert admin.post(f"{BASE}/applicationversions", body).status_code == 201
    assert yaml.safe_load(body["spec"]["helmConfig"]["values"])["banner"] == "spring sale"


def test_a_release_left_pending_by_a_killed_worker_waits_then_is_replaced_once_with_nothing_left_twice(
        shop, platform):
    from edgeplatform.kube.operations import merge_patch

    emulator, cluster, app = shop
    provisioner = provisioners.get("helm")
    v1 = version(platform, app, "1.0.0", helmConfig=helm_config())
    row = deployment(platform, "storefront", "retail", app, [{"nodeGroup": "shop-1"}])
    (target,) = targets(row, v1)
    client = gateway.member_client(cluster)
    name = release_name("storefront", target.key)
    provisioner.provision(target, client)

    def left_pending(modified_at: int):  # what a worker killed in the middle of Helm's install leaves
        merge_patch(client, "v1", "Secret", f"sh.helm.release.v1.{name}.v1",
                    {"metadata": {"labels": {"status": "pending-install", "modifiedAt": str(modified_at)}}}, "retail")

    # WHEN the install was cut short a moment ago, THEN the next attempt waits: Helm may still be at work
    left_pending(int(time.time()))
    assert provisioner.status([target], client)[target.key].phase == "Progressing"
    emulator.requests.clear()
    with pytest.raises(TemporaryError) as busy:
        provisioner.provision(target, client)
    assert busy.value.reason == "HelmBusy" and emulator.requests.count_writes() == 0
    # WHEN it was cut short longer ago than Helm's timeout, THEN the abandoned release is replaced by one install
    left_pending(int(time.time()) - 3600)
    provisioner.provision(target, client)
    assert emulator.settle()
    assert release_secrets(emulator, "retail") == [f"sh.helm.release.v1.{name}.v1"]
    assert [d["metadata"]["name"] for d in emulator.objects("deployments", namespace="retail")] == [name]
    assert len(emulator.objects("pods", namespace="retail")) == 1
    assert provisioner.status([target], client)[target.key].phase == "Running"
