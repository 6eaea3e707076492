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
