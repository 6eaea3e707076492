"""/metrics serves the permission engine's figures beside django-prometheus's."""
import re

import pytest
from django.test import Client

from iam.engine import engine


def metric(text: str, name: str) -> float:
    """The value of the sample line ``name`` (labels included) in a Prometheus text page."""
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


# grants read inside a transaction that changed IAM data are never cached: commit for real
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_check_latency_and_cache_levels_are_exported(platform):
    platform.cluster("c1")
    user = platform.user("ann")
    platform.bind("ann-c1", "cluster-viewer", "cluster", "c1", users=("ann",))
    before = Client().get("/metrics").content.decode()
    for _ in range(64):
        engine.allowed(user, "list", "scope.theriseunion.io", "workspaces", "clusters/c1")
    text = Client().get("/metrics").content.decode()
    assert metric(text, "edge_permission_check_seconds_count") >= \
        metric(before, "edge_permission_check_seconds_count") + 64 // engine.sample_every
    assert metric(text, 'edge_permission_cache_total{level="l1"}') >= \
        metric(before, 'edge_permission_cache_total{level="l1"}') + 60
    assert metric(text, 'edge_permission_cache_total{level="db"}') >= 1
    assert "django_http_requests_total_by_method_total" in text
