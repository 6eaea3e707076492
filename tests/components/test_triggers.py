"""What queues a component's reconcile: a write through the write path (after commit), a dependency turning
Ready (its dependents), the per-cluster release sweep (drift only), and beat (a deletion request is due although
the spec did not move)."""
from __future__ import annotations

import pytest
from django.utils import timezone

from components.controller import CONTROLLER, SWEEP
from edgeplatform.controllers.engine import reconcile
from edgeplatform.controllers.tasks import due
from edgeplatform.helm import metrics as helm_metrics
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.services import save_manifest
from tests.components.conftest import release_secrets, run
from tests.factories.components import component

SPEC = {"chart": {"name": "component"}, "version": "1.0.0"}


def test_a_saved_component_is_reconciled_after_commit_and_its_dependents_follow_when_it_is_ready(
        site, eager_celery, django_capture_on_commit_callbacks):
    # GIVEN b depends on a; neither installed (b waited for a)
    a = component(site.cluster, "a", {**SPEC, "values": {"message": "old"}})
    b = component(site.cluster, "b", {**SPEC, "dependsOn": ["a"]})
    assert run(b).result == "retry" and b.status["phase"] == "Pending"
    before = helm_metrics.calls()
    # WHEN a's spec is changed through the write path and the transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        manifest = converter_for(a).to_manifest(a)
        manifest["spec"]["values"] = {"message": "new"}
        save_manifest(converter_for(a), manifest, instance=a, url_name="a")
    # THEN a was installed, and its turning Ready queued b, which installed too
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.phase, b.phase) == ("Ready", "Ready")
    assert helm_metrics.calls() - before == 2
    assert site.kube.object("configmaps", "a-settings", "edge-system")["data"]["message"] == "new"


def test_the_sweep_reads_once_per_cluster_and_queues_only_what_drifted(site, eager_celery):
    from edgeplatform.helm import HelmDriver

    agent = component(site.cluster, "agent", SPEC)
    other = component(site.cluster, "other", SPEC)
    assert run(agent).result == "success" and run(other).result == "success"
    # GIVEN nothing drifted WHEN the sweep runs THEN one read, no Helm call, nothing queued
    site.kube.requests.clear()
    before = helm_metrics.calls()
    outcome = reconcile(SWEEP, site.cluster.pk)
    assert outcome.result == "success" and outcome.value["drifted"] == []
    assert len(site.kube.requests) == 1 and helm_metrics.calls() == before
    # WHEN one release is uninstalled by hand THEN the sweep queues that one (run at once here) and it comes back
    with HelmDriver.for_cluster(site.cluster) as driver:
        driver.uninstall("agent", namespace="edge-system")
    outcome = reconcile(SWEEP, site.cluster.pk)
    assert outcome.value["drifted"] == ["agent"]
    assert release_secrets(site.kube) == ["sh.helm.release.v1.agent.v1", "sh.helm.release.v1.other.v1"]


def test_beat_finds_a_deletion_request_due_although_the_spec_did_not_move(site):
    comp = component(site.cluster, "agent", SPEC)
    assert run(comp).result == "success"
    assert str(comp.pk) not in due(CONTROLLER)
    comp.deletion_requested = timezone.now()
    comp.save()
    assert str(comp.pk) in due(CONTROLLER)


def test_a_deletion_is_not_held_back_by_a_permanent_failure_of_the_spec(site):
    comp = component(site.cluster, "agent", {"chart": {"name": "component"}, "version": "1.0.0",
                                             "values": {"message": "x", "replicas": "three"}})
    comp.spec = {**SPEC, "values": {"invalid": True}}
    comp.save()
    failed = run(comp)
    assert failed.result == "permanent" and comp.status["reason"] == "InstallFailed"
    assert run(comp).result == "skipped"
    comp.deletion_requested = timezone.now()
    comp.save()
    outcome = run(comp)
    assert outcome.result == "success" and not type(comp).objects.filter(pk=comp.pk).exists()


@pytest.mark.parametrize("phase", ["Ready", "Unmanaged"])
def test_a_dependency_that_is_ready_or_unmanaged_lets_the_dependent_install(site, phase):
    annotations = {"ext.theriseunion.io/skip-reconcile": "true"} if phase == "Unmanaged" else {}
    base = component(site.cluster, "base", SPEC, annotations=annotations)
    assert run(base).result == "success" and base.status["phase"] == phase
    top = component(site.cluster, "top", {**SPEC, "dependsOn": ["base"]})
    assert run(top).result == "success" and top.status["phase"] == "Ready"
