"""The components console: per-cluster lists with phase, version, chart, last error and dependencies; the form
with its YAML values editor writing through the write path (422 causes on the field); enable/disable; a held
delete; the progress endpoint; the revision history with rollback."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from components.models import Component
from edgeplatform.resources.services import save_status
from iam.audit.models import AuditEvent
from tests.factories import ComponentFactory

pytestmark = pytest.mark.django_db
PAGE = "/console/components/component/"


@pytest.fixture
def fleet(platform):
    platform.cluster("c1")
    platform.cluster("c2")
    platform.user("root", superuser=True)
    base = ComponentFactory(name="base", cluster="c1", spec={"version": "1.0.0"})
    ComponentFactory(name="web", cluster="c1", spec={"version": "2.1.0", "dependsOn": ["base"],
                                                     "chart": {"name": "web-chart"}})
    ComponentFactory(name="agent", cluster="c2", spec={"version": "0.3.0"})
    save_status(base, lambda status: {**status, "phase": "Failed", "message": "chart base-1.0.0 not found"},
                notable=lambda before, after: True)
    return platform


def client_for(platform, name, role=None, level="", value=""):
    user = platform.user(name)
    if role:
        platform.bind(f"{name}-binding", role, level, value, users=(name,))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(fleet):
    from iam.models import User

    client = Client()
    client.force_login(User.objects.get(name="root"))
    return client


def listed(client, query="") -> list[str]:
    response = client.get(f"{PAGE}{query}")
    assert response.status_code == 200, response.status_code
    return sorted(re.findall(r'<th class="field-name"><a href="[^"]+">([^<]+)</a>', response.content.decode()))


def test_the_list_shows_phase_version_chart_last_error_and_dependencies(admin):
    html = admin.get(f"{PAGE}?cluster__name=c1").content.decode()
    assert listed(admin, "?cluster__name=c1") == ["base", "web"]
    assert listed(admin) == ["agent", "base", "web"]
    assert 'class="component-phase phase-error">Failed<' in html
    assert "chart base-1.0.0 not found" in html
    assert "web-chart (platform)" in html and "2.1.0" in html
    assert re.search(r'<td class="field-dependencies">base</td>', html)


def test_a_cluster_admin_sees_and_manages_only_their_clusters_components(fleet):
    client = client_for(fleet, "ops", "cluster-admin", "cluster", "c1")
    assert listed(client) == ["base", "web"]
    assert listed(client, "?cluster__name=c2") == []
    html = client.get(PAGE).content.decode()
    assert 'id="cluster-c1"' in html and 'id="cluster-c2"' not in html
    assert "disable_components" in html  # the action shows: they may update there
    agent = Component.objects.get(name="agent")
    assert client.get(f"{PAGE}{agent.pk}/change/").status_code == 404
    assert client.get(f"{PAGE}{agent.pk}/status/").status_code == 404


def test_a_reader_of_components_gets_no_write_actions_and_a_cluster_viewer_no_page(fleet):
    from tests.fleet import role_manifest

    fleet.apply(role_manifest("components-reader", "cluster", [
        {"apiGroups": ["ext.theriseunion.io"], "resources": ["components"], "verbs": ["get", "list", "watch"]}],
        ["cluster/components.view"]))
    reader = client_for(fleet, "reader", "components-reader", "cluster", "c1")
    html = reader.get(PAGE).content.decode()
    assert listed(reader) == ["base", "web"]
    assert "disable_components" not in html and "enable_components" not in html
    web = Component.objects.get(name="web")
    assert reader.post(f"{PAGE}{web.pk}/delete/", {"post": "yes"}).status_code == 403
    assert reader.get(f"{PAGE}{web.pk}/status/").json()["phase"] == "Pending"
    # the rollback is a POST, refused to a reader
    assert reader.get(f"{PAGE}{web.pk}/rollback/").status_code == 405
    assert reader.post(f"{PAGE}{web.pk}/rollback/", {"revision": "1"}).status_code == 403
    # the built-in cluster viewer reads no components (only cluster-manage-components names them)
    assert client_for(fleet, "watcher", "cluster-viewer", "cluster", "c1").get(PAGE).status_code == 403


def test_add_with_yaml_values_goes_through_the_write_path(admin):
    response = admin.post(f"{PAGE}add/", {"name": "mesh", "cluster": "c1", "enabled": "on", "version": "1.4.0",
                                          "depends_on": "base, web",
                                          "values": "replicas: 2\nservice:\n  type: NodePort\n"})
    assert response.status_code == 302, response.content.decode()[:3000]
    mesh = Component.objects.get(name="mesh")
    assert (mesh.cluster.name, mesh.namespace) == ("c1", "c1")
    assert mesh.spec == {"enabled": True, "version": "1.4.0", "dependsOn": ["base", "web"],
                         "values": {"replicas": 2, "service": {"type": "NodePort"}}}
    assert AuditEvent.objects.filter(name="mesh", verb="create", actor="root").count() == 1


def test_a_refused_write_shows_the_cause_on_its_field_and_keeps_the_input(admin):
    response = admin.post(f"{PAGE}add/", {"name": "mesh", "cluster": "c1", "enabled": "on",
                                          "depends_on": "base, nowhere", "values": "keep: me\n"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'component &quot;nowhere&quot; not found in cluster &quot;c1&quot;' in html
    assert "keep: me" in html
    bad_yaml = admin.post(f"{PAGE}add/", {"name": "mesh", "cluster": "c1", "values": "a: [unclosed"})
    assert "not valid YAML" in bad_yaml.content.decode()
    assert not Component.objects.filter(name="mesh").exists()


def test_disable_refused_while_needed_then_allowed(admin):
    base, web = Component.objects.get(name="base"), Component.objects.get(name="web")
    response = admin.post(PAGE, {"action": "disable_components", "_selected_action": [base.pk]}, follow=True)
    assert "uninstall web first" in response.content.decode()
    assert Component.objects.get(name="base").enabled is True
    admin.post(PAGE, {"action": "disable_components", "_selected_action": [web.pk, base.pk]}, follow=True)
    assert not Component.objects.filter(name__in=["base", "web"], enabled=True).exists()
    admin.post(PAGE, {"action": "enable_components", "_selected_action": [base.pk]})
    assert Component.objects.get(name="base").enabled is True


def test_delete_is_confirmed_then_held_and_a_needed_one_is_refused(admin):
    base, web = Component.objects.get(name="base"), Component.objects.get(name="web")
    confirm = admin.get(f"{PAGE}{web.pk}/delete/")
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    refused = admin.post(f"{PAGE}{base.pk}/delete/", {"post": "yes"}, follow=True)
    assert "uninstall web first" in refused.content.decode()
    assert Component.objects.get(name="base").deletion_requested is None
    held = admin.post(f"{PAGE}{web.pk}/delete/", {"post": "yes"}, follow=True)
    assert "is being uninstalled" in held.content.decode()
    assert Component.objects.get(name="web").deletion_requested is not None


def test_the_progress_endpoint_reports_until_a_terminal_phase(admin):
    web = Component.objects.get(name="web")
    page = admin.get(f"{PAGE}{web.pk}/change/").content.decode()
    assert 'id="component-progress"' in page and f'data-status-url="{PAGE}{web.pk}/status/"' in page
    assert 'data-terminal="false"' in page and "status-poll.js" in page
    state = admin.get(f"{PAGE}{web.pk}/status/").json()
    assert (state["phase"], state["terminal"]) == ("Pending", False)
    save_status(web, lambda s: {**s, "phase": "Installing", "step": "ensure_release", "retryCount": 1,
                                "message": "waiting for deployment web", "observedGeneration": web.generation},
                notable=lambda before, after: True)
    state = admin.get(f"{PAGE}{web.pk}/status/").json()
    assert (state["phase"], state["step"], state["retryCount"], state["terminal"]) == (
        "Installing", "ensure_release", 1, False)
    save_status(web, lambda s: {**s, "phase": "Ready", "message": "release web revision 1 deployed"},
                notable=lambda before, after: True)
    assert admin.get(f"{PAGE}{web.pk}/status/").json()["terminal"] is True


def test_revision_history_and_rollback(admin):
    services = pytest.importorskip("components.services")
    if not hasattr(services, "revisions"):
        pytest.skip("components.services keeps no revision history")
    web = Component.objects.get(name="web")
    history = services.revisions(web)
    page = admin.get(f"{PAGE}{web.pk}/change/").content.decode()
    # THEN the panel lists exactly the revisions the platform keeps, newest first, a rollback on each older one
    assert 'id="component-revisions"' in page
    assert re.findall(r'<tr id="revision-(\d+)">', page) == [str(r["revision"]) for r in history]
    assert re.findall(r'id="rollback-(\d+)"', page) == [str(r["revision"]) for r in history[1:]]
    if len(history) >= 2:
        older = history[1]["revision"]
        response = admin.post(f"{PAGE}{web.pk}/rollback/", {"revision": str(older)}, follow=True)
        assert f"Rolling back to revision {older}" in response.content.decode()
        assert Component.objects.get(name="web").generation == web.generation + 1


def test_without_a_revision_history_the_panel_says_so(admin):
    web = Component.objects.get(name="web")
    page = admin.get(f"{PAGE}{web.pk}/change/").content.decode()
    assert 'id="component-revisions"' in page
    try:
        from components.services import revisions
    except ImportError:
        assert "keeps no revision history" in page
    else:
        assert ("No Helm revision yet" in page) == (not revisions(web))


def test_a_cluster_deleted_takes_its_components(admin):
    from clusters.models import Cluster

    c2 = Cluster.objects.get(name="c2")
    assert admin.post(f"/console/clusters/cluster/{c2.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Component.objects.filter(cluster__name="c2").exists()
    assert Component.objects.filter(cluster__name="c1").count() == 2
