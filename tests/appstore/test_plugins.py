"""Provisioner plugins: a package of its own (tests/fixtures/plugins/edge-configmap-provisioner), really installed
with pip into a directory the running process then finds on ``sys.path``, adds the type ``configmap`` with no
change to the platform and no restart: applications of that type are accepted, their versions are validated by
the plugin, and a topology is provisioned on an emulated cluster. A plugin under a built-in's name is ignored."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from appstore import provisioners
from appstore.provisioners.helm import HelmProvisioner
from edgeplatform import kube as gateway
from tests.appstore.provisioning import BASE, application, deployment, member, targets, version
from tests.paths import FIXTURES
from tests.support import ApiClient

PLUGIN = FIXTURES / "plugins" / "edge-configmap-provisioner"
MODULE = "edge_configmap_provisioner"


def _pip(source, target, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-input",
                           "--disable-pip-version-check", "--target", str(target), *extra, str(source)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The plugin installed by pip into a directory of its own (not yet on sys.path): with build isolation when
    the package index answers, else with the setuptools of this environment."""
    work = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(PLUGIN, work / "source")  # the build writes egg-info next to the sources
    target = work / "site"
    result = _pip(source, target, "--timeout", "5", "--retries", "0")
    if result.returncode != 0:  # no index reachable: build with what is installed here
        result = _pip(source, target, "--no-build-isolation")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / MODULE / "__init__.py").exists()
    assert list(target.glob("edge_configmap_provisioner-1.0.0.dist-info/entry_points.txt"))
    return target


@pytest.fixture
def plugin(installed):
    """The installed plugin's directory put on sys.path while the platform runs (its registry already read)."""
    assert "configmap" not in provisioners.types()
    sys.path.append(str(installed))
    yield installed
    sys.path.remove(str(installed))
    for name in [name for name in sys.modules if name == MODULE or name.startswith(f"{MODULE}.")]:
        del sys.modules[name]
    provisioners.reload()
    assert "configmap" not in provisioners.types()


def test_an_installed_package_adds_a_type_without_a_restart_and_cannot_shadow_a_built_in(plugin, caplog):
    found = provisioners.get("configmap")
    assert found is not None and type(found).__module__ == MODULE
    assert (found.type, found.config_key) == ("configmap", "configMapConfig")
    assert "configmap" in provisioners.types()
    assert isinstance(provisioners.get("helm"), HelmProvisioner)
    assert "provisioner plugin helm (edge_configmap_provisioner:ShadowHelm) ignored: helm is a built-in type" \
        in caplog.text


def test_applications_of_the_plugins_type_are_accepted_and_its_versions_validated_by_it(plugin, platform):
    admin = ApiClient.for_user(platform.user("root", superuser=True))

    def app(name: str, provisioner: str):
        return admin.post(f"{BASE}/applications", {
            "apiVersion": "app.theriseunion.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "labels": {"app.theriseunion.io/provisioner": provisioner}}, "spec": {}})

    assert app("shop-settings", "configmap").status_code == 201
    refused = app("shop-extras", "function").json()
    assert refused["code"] == 422
    assert [c["field"] for c in refused["details"]["causes"]] == ["metadata.labels[app.theriseunion.io/provisioner]"]
    assert "configmap" in refused["details"]["causes"][0]["message"]

    def release(number: str, config: dict):
        return admin.post(f"{BASE}/applicationversions", {
            "apiVersion": "app.theriseunion.io/v1alpha1", "kind": "ApplicationVersion",
            "metadata": {"name": f"shop-settings-{number.replace('.', '-')}"},
            "spec": {"applicationRef": "shop-settings", "version": number, "configMapConfig": config}})

    bad = release("1.0.0", {"data": {"CURRENCY": "EUR", "OPENING HOURS": "08-20"}})
    assert bad.status_code == 422, bad.json()
    assert [c["field"] for c in bad.json()["details"]["causes"]] == ["spec.configMapConfig.data[OPENING HOURS]"]
    good = release("1.0.0", {"data": {"CURRENCY": "EUR", "OPENING_HOURS": "08-20"}})
    assert good.status_code == 201, good.json()
    assert good.json()["spec"]["configMapConfig"] == {"data": {"CURRENCY": "EUR", "OPENING_HOURS": "08-20"}}


def test_the_plugin_provisions_a_topology_on_a_member_cluster(plugin, kube_clusters, platform):
    emulator, cluster = member(kube_clusters, platform, groups=("shop-1",))
    platform.namespace("retail", "edge")
    app = application(platform, "shop-settings", "configmap")
    v1 = version(platform, app, "1.0.0", configMapConfig={"data": {"CURRENCY": "EUR"}})
    row = deployment(platform, "shop-settings", "retail", app, [
        {"nodeGroup": "shop-1", "workloadOverride": {"data": {"CURRENCY": "CHF"}}}])
    (target,) = targets(row, v1)
    client = gateway.member_client(cluster)
    provisioner = provisioners.get(app.provisioner)

    made = provisioner.provision(target, client)
    (name,) = made.workloads
    stored = emulator.object("configmaps", name, "retail")
    assert stored["data"] == {"CURRENCY": "CHF"}
    assert stored["metadata"]["labels"]["app.theriseunion.io/topology-hash"] == target.key
    state = provisioner.status([target], client)[target.key]
    assert (state.phase, state.version, state.workloads) == ("Running", "1.0.0", [name])
    assert provisioner.unprovision(row, client) == 1
    assert emulator.object("configmaps", name, "retail") is None


def test_a_provisioner_missing_part_of_the_interface_is_refused_at_registration():
    from appstore.provisioners import register
    from appstore.provisioners.base import Provisioner

    class HalfDone(Provisioner):
        type, config_key = "half-done", "halfDoneConfig"

        def provision(self, target, client):
            return None

    with pytest.raises(TypeError, match="abstract"):
        register(HalfDone)
    assert provisioners.get("half-done") is None
