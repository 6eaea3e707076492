"""Component figures on /metrics: install duration by result, components by phase (one GROUP BY when scraped),
and the Helm calls the driver made."""
from __future__ import annotations

from django.test import Client

from tests.components.conftest import run
from tests.factories.components import component


def scrape() -> dict[str, float]:
    """The samples of /metrics, by their name and labels as written."""
    text = Client().get("/metrics").content.decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_install_duration_phase_counts_and_helm_calls_are_on_metrics(site, django_assert_max_num_queries):
    before = scrape()
    ready = component(site.cluster, "agent", {"chart": {"name": "component"}, "version": "1.0.0"})
    component(site.cluster, "waiting", {"chart": {"name": "component"}, "dependsOn": ["nothing"]})
    component(site.cluster, "kept", {}, annotations={"ext.theriseunion.io/skip-reconcile": "true"})
    assert run(ready).result == "success"
    after = scrape()
    key = 'component_install_duration_seconds_count{result="success"}'
    assert after[key] - before.get(key, 0) == 1
    helm = 'helm_operations_total{operation="install_or_upgrade",result="success"}'
    assert after[helm] - before.get(helm, 0) == 1
    assert after['component_phase_count{phase="Ready"}'] == 1
    assert after['component_phase_count{phase="Pending"}'] == 2  # never reconciled: waiting
    assert after['component_phase_count{phase="Failed"}'] == 0
    from components.metrics import PhaseCollector

    with django_assert_max_num_queries(1):
        list(PhaseCollector().collect())
