"""The component controller on an emulated member cluster with the real Helm SDK and the project's own charts."""
from __future__ import annotations

from components.models import Component
from tests.components.conftest import release_secrets, run
from tests.factories.components import component


def test_a_component_installs_and_a_second_reconcile_makes_no_helm_call(site):
    # GIVEN a component of cluster edge naming the library's chart
    comp = component(site.cluster, "agent", {"chart": {"name": "component"}, "version": "1.0.0",
                                             "values": {"message": "hi"}})
    # WHEN it is reconciled
    outcome = run(comp)
    # THEN the release is installed, status says Ready with the hash and revision
    assert outcome.result == "success", comp.status
    assert comp.status["phase"] == "Ready" and comp.status["releaseName"] == "agent"
    assert comp.status["releaseVersion"] == 1 and len(comp.status["observedHash"]) == 64
    assert site.kube.object("configmaps", "agent-settings", "edge-system")["data"]["message"] == "hi"
    assert release_secrets(site.kube) == ["sh.helm.release.v1.agent.v1"]
    assert outcome.helm_calls == 1
    # WHEN it is reconciled again with nothing changed THEN no Helm call at all, one read
    site.kube.requests.clear()
    again = run(comp)
    assert again.result == "success" and again.helm_calls == 0
    assert site.kube.requests.count_writes() == 0
    assert Component.objects.get(pk=comp.pk).phase == "Ready"


def spec(**values) -> dict:
    """A spec naming the library's test chart at 1.0.0 with these values."""
    return {"chart": {"name": "component"}, "version": "1.0.0", "values": values}


def test_a_chain_of_three_installs_in_dependency_order(site):
    # GIVEN c depends on b, b on a (created in the reverse order)
    c = component(site.cluster, "c", {**spec(), "dependsOn": ["b"]})
    b = component(site.cluster, "b", {**spec(), "dependsOn": ["a"]})
    a = component(site.cluster, "a", spec())
    # WHEN c and b are reconciled first THEN they wait, with no Helm call
    for waiting, dependency in ((c, "b"), (b, "a")):
        outcome = run(waiting)
        assert outcome.result == "retry" and outcome.helm_calls == 0
        assert waiting.status["phase"] == "Pending" and f"waiting for {dependency}" in waiting.status["message"]
    # WHEN a, then b, then c are reconciled THEN each installs once its dependency is Ready
    for comp in (a, b, c):
        assert run(comp).result == "success" and comp.status["phase"] == "Ready"
    created = [r.path for r in site.kube.requests if r.method == "POST" and "/secrets" in r.path]
    assert len(created) == 3
    releases = sorted(site.kube.objects("secrets", namespace="edge-system"),
                      key=lambda s: int(s["metadata"]["resourceVersion"]))
    assert [s["metadata"]["labels"]["name"] for s in releases if s["metadata"]["labels"].get("owner") == "helm"] \
        == ["a", "b", "c"]


def test_drift_a_release_removed_or_changed_out_of_band_is_repaired(site):
    from components.controller import drifted_components
    from edgeplatform.helm import HelmDriver

    comp = component(site.cluster, "agent", spec(message="desired"))
    assert run(comp).result == "success"
    # GIVEN nothing drifted THEN the sweep finds nothing with one read
    site.kube.requests.clear()
    assert drifted_components(site.cluster) == []
    assert len(site.kube.requests) == 1
    # WHEN someone upgrades the release by hand
    with HelmDriver.for_cluster(site.cluster) as driver:
        driver.install_or_upgrade("agent", site.chart_path, {"message": "by hand"}, namespace="edge-system")
    # THEN the sweep finds it, and the next reconcile upgrades it back
    assert [c.name for c in drifted_components(site.cluster)] == ["agent"]
    outcome = run(comp)
    assert outcome.result == "success" and outcome.helm_calls == 1
    assert site.kube.object("configmaps", "agent-settings", "edge-system")["data"]["message"] == "desired"
    assert comp.status["releaseVersion"] == 3
    # WHEN the release is uninstalled by hand THEN it is reinstalled
    with HelmDriver.for_cluster(site.cluster) as driver:
        driver.uninstall("agent", namespace="edge-system")
    assert [c.name for c in drifted_components(site.cluster)] == ["agent"]
    assert run(comp).result == "success"
    assert comp.status["releaseVersion"] == 1 and release_secrets(site.kube) == ["sh.helm.release.v1.agent.v1"]


def test_a_failed_upgrade_rolls_back_to_the_last_good_revision_and_status_says_so(site):
    from components.services import revisions

    comp = component(site.cluster, "agent", spec(message="good"))
    assert run(comp).result == "success"
    # WHEN the spec asks for values the API server refuses (an invalid Deployment)
    comp.spec = spec(message="bad", invalid=True)
    comp.generation += 1
    comp.save()
    outcome = run(comp)
    # THEN Helm rolled back: revision 3 is revision 1 again; status says Failed, UpgradeFailed, and where it went
    assert outcome.result == "permanent"
    assert comp.status["phase"] == "Failed" and comp.status["reason"] == "UpgradeFailed"
    assert "rolled back to revision 1" in comp.status["message"] and comp.status["releaseVersion"] == 3
    assert site.kube.object("configmaps", "agent-settings", "edge-system")["data"]["message"] == "good"
    assert [(r["revision"], r["status"]) for r in revisions(comp)] == [(3, "deployed"), (2, "failed"),
                                                                      (1, "superseded")]
    assert revisions(comp)[0]["description"] == "Rollback to 1"


def test_enabled_false_uninstalls_and_keeps_the_row_then_deletion_removes_it(site):
    from django.utils import timezone

    comp = component(site.cluster, "agent", spec())
    assert run(comp).result == "success"
    comp.spec = {**spec(), "enabled": False}
    comp.generation += 1
    comp.save()
    outcome = run(comp)
    assert outcome.result == "success" and outcome.helm_calls == 1
    assert comp.status["phase"] == "Disabled" and "observedHash" not in comp.status
    assert release_secrets(site.kube) == [] and site.kube.object("configmaps", "agent-settings", "edge-system") is None
    assert run(comp).helm_calls == 0  # idempotent: nothing installed, nothing to uninstall
    # WHEN it is re-enabled and then deleted THEN the release is uninstalled first, then the row goes
    comp.spec = spec()
    comp.generation += 1
    comp.save()
    assert run(comp).result == "success" and release_secrets(site.kube)
    comp.deletion_requested = timezone.now()
    comp.save()
    outcome = run(comp)
    assert outcome.result == "success" and outcome.helm_calls == 1
    assert release_secrets(site.kube) == [] and not Component.objects.filter(pk=comp.pk).exists()


def test_skip_reconcile_makes_no_call_and_no_read(site):
    comp = component(site.cluster, "preinstalled", spec(),
                     annotations={"ext.theriseunion.io/skip-reconcile": "true"})
    site.kube.requests.clear()
    outcome = run(comp)
    assert outcome.result == "success" and outcome.helm_calls == 0 and len(site.kube.requests) == 0
    assert comp.status["phase"] == "Unmanaged"


def test_a_chart_no_repository_has_is_a_clear_failure_retried(site):
    comp = component(site.cluster, "agent", {"chart": {"name": "component"}, "version": "9.9.9"})
    outcome = run(comp)
    assert outcome.result == "retry" and outcome.helm_calls == 0
    assert comp.status["phase"] == "Failed" and comp.status["reason"] == "ChartNotFound"
    assert "no version 9.9.9" in comp.status["message"] and "library" in comp.status["message"]
