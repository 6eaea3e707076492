"""Cluster manifests: names a cluster may not take."""
from __future__ import annotations

from clusters.models import Cluster
from iam.audit.models import AuditEvent

API = "/oapis/scope.theriseunion.io/v1alpha1/clusters"


def test_a_cluster_may_not_be_named_after_the_shared_chart_repository(platform, api):
    # GIVEN a platform admin
    admin = api(platform.user("root", superuser=True))
    audited = AuditEvent.objects.count()
    # WHEN a cluster named "library" is created (its chart repository would be the one every cluster shares)
    answer = admin.post(API, {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                              "metadata": {"name": "library"}, "spec": {"type": "physical"}})
    # THEN it is refused on the name, and nothing is stored or audited as written
    assert answer.status_code == 422, answer.content
    body = answer.json()
    assert body["kind"] == "Status"
    assert [c["field"] for c in body["details"]["causes"]] == ["metadata.name"]
    assert "chart repository" in body["details"]["causes"][0]["message"]
    assert not Cluster.objects.filter(name="library").exists()
    assert not AuditEvent.objects.filter(name="library", result="allowed").exists()
    assert AuditEvent.objects.count() - audited <= 1  # at most the refusal itself
    # AND another name is fine
    assert admin.post(API, {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                            "metadata": {"name": "library-2"}, "spec": {"type": "physical"}}).status_code == 201
