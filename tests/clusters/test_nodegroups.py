"""A node group's membership, template and status (``clusters.nodegroups``), against the emulated API server:
selector membership shown in the node's manifest and found by label selector, the template's labels,
annotations and taints applied by server-side apply and removed when dropped or when a node leaves, node counts
and NotReady reporting (condition, metric, audit finding)."""
from __future__ import annotations

import pytest
from django.test import override_settings

from clusters.models import Node, NodeGroup
from clusters.nodegroups import CONTROLLER, FIELD_MANAGER
from edgeplatform import kube as gateway
from edgeplatform.controllers.engine import reconcile
from iam.audit.models import AuditEvent
from tests.clusters.sites import CLUSTER_LABEL, FAST, GROUP, connect, core, sync_members
from tests.support import ApiClient

NODES = f"/oapis/{GROUP}/clusters/edge/nodes"


@pytest.fixture
def edge(kube_clusters, platform, eager_celery):
    """Group ``arm`` (selector arch=arm64) with a template, group ``line-a`` (by label); nodes n1 (line-a), n2 and
    n3 (arm64), n4 (neither, tainted by someone else)."""
    (emulator,) = kube_clusters(1)
    gateway.forget_clients()
    with override_settings(**FAST):
        connect(platform, emulator)
        group("arm", {"selector": {"matchLabels": {"kubernetes.io/arch": "arm64"}}, "template": TEMPLATE}, platform)
        platform.nodegroup("line-a", "edge")
        emulator.add_node("n1", labels={"theriseunion.io/nodegroup": "line-a"})
        emulator.add_node("n2", labels={"kubernetes.io/arch": "arm64"})
        emulator.add_node("n3", labels={"kubernetes.io/arch": "arm64"},
                          taints=[{"key": "vendor", "value": "x", "effect": "NoSchedule"}])
        emulator.add_node("n4")
        assert sync_members().result == "success"
        yield emulator, core(emulator)
    gateway.forget_clients()


TEMPLATE = {"labels": {"site": "plant-1"}, "annotations": {"owner": "ops"},
            "taints": ["dedicated=edge:NoSchedule"]}


def group(name, spec, platform):
    platform.apply({"apiVersion": GROUP, "kind": "NodeGroup",
                    "metadata": {"name": name, "labels": {CLUSTER_LABEL: "edge"}}, "spec": spec})


def run(name="arm"):
    return reconcile(CONTROLLER, NodeGroup.objects.get(name=name).pk)


def taints(api, name):
    spec = api.read_node(name).spec
    return sorted((t.key, t.value, t.effect) for t in (spec.taints if spec else None) or [])


def test_a_node_in_a_group_by_selector_shows_the_group_and_is_found_by_label_selector(edge, platform):
    admin = ApiClient.for_user(platform.user("root", superuser=True))
    # THEN n2's manifest carries the group label, as labelled n1's does
    assert admin.get(f"{NODES}/n2").json()["metadata"]["labels"]["theriseunion.io/nodegroup"] == "arm"
    assert admin.get(f"{NODES}/n1").json()["metadata"]["labels"]["theriseunion.io/nodegroup"] == "line-a"
    # AND a label selector finds the group's nodes, whichever way they belong
    found = admin.get(f"{NODES}?labelSelector=theriseunion.io/nodegroup=arm").json()["items"]
    assert [item["metadata"]["name"] for item in found] == ["n2", "n3"]
    found = admin.get(f"{NODES}?labelSelector=theriseunion.io/nodegroup%20in%20(arm,line-a),"
                      "kubernetes.io/arch=arm64").json()["items"]
    assert [item["metadata"]["name"] for item in found] == ["n2", "n3"]
    found = admin.get(f"{NODES}?labelSelector=!theriseunion.io/nodegroup").json()["items"]
    assert [item["metadata"]["name"] for item in found] == ["n4"]
    # AND a manifest sent back as read keeps the node placed by the selector (no label of its own)
    body = admin.get(f"{NODES}/n2").json()
    assert admin.put(f"{NODES}/n2", body).status_code == 200
    assert "theriseunion.io/nodegroup" not in Node.objects.get(name="n2").labels


def test_the_template_is_applied_to_the_group_s_nodes_and_others_taints_are_kept(edge):
    emulator, api = edge
    outcome = run()
    assert outcome.result == "success", outcome
    for name in ("n2", "n3"):
        node = api.read_node(name)
        assert node.metadata.labels["site"] == "plant-1" and node.metadata.annotations["owner"] == "ops"
        assert node.metadata.labels["kubernetes.io/arch"] == "arm64"  # what others set stays
        assert FIELD_MANAGER in {m.manager for m in node.metadata.managed_fields}
    assert taints(api, "n2") == [("dedicated", "edge", "NoSchedule")]
    assert taints(api, "n3") == [("dedicated", "edge", "NoSchedule"), ("vendor", "x", "NoSchedule")]
    assert "site" not in (api.read_node("n4").metadata.labels or {})
    # AND a second reconcile writes nothing
    emulator.requests.clear()
    assert run().result == "success"
    assert emulator.requests.count_writes() == 0


def test_what_the_template_drops_is_removed_from_the_nodes(edge, platform):
    _, api = edge
    assert run().result == "success"
    group("arm", {"selector": {"matchLabels": {"kubernetes.io/arch": "arm64"}},
                  "template": {"labels": {"tier": "b"}}}, platform)
    assert run().result == "success"
    labels = api.read_node("n3").metadata.labels
    assert labels["tier"] == "b" and "site" not in labels
    assert "owner" not in (api.read_node("n3").metadata.annotations or {})
    assert taints(api, "n3") == [("vendor", "x", "NoSchedule")]
    assert taints(api, "n2") == []


def test_a_node_leaving_the_group_loses_the_template(edge):
    _emulator, api = edge
    assert run().result == "success"
    # WHEN n2 stops matching the selector on the member and the sync sees it
    api.patch_node("n2", {"metadata": {"labels": {"kubernetes.io/arch": "amd64"}}})
    assert sync_members().result == "success"
    assert Node.objects.get(name="n2").nodegroup is None
    assert run().result == "success"
    node = api.read_node("n2")
    assert "site" not in node.metadata.labels and "owner" not in (node.metadata.annotations or {})
    assert taints(api, "n2") == []


def test_status_counts_nodes_and_reports_one_that_goes_not_ready(edge):
    emulator, _ = edge
    emulator.kubelet_on([])
    try:
        assert emulator.settle()
        sync_members()
        assert run().result == "success"
        status = NodeGroup.objects.get(name="arm").status
        assert (status["phase"], status["nodeCount"], status["readyNodeCount"]) == ("Ready", 2, 2)
        assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "True", "NodesReady": "True"}
        # WHEN n3's site goes offline
        emulator.node_offline("n3")
        assert emulator.settle()
        sync_members()
    finally:
        emulator.kubelet_off()
    # THEN the group is Degraded with a condition naming the node
    assert run().result == "success"
    status = NodeGroup.objects.get(name="arm").status
    assert (status["phase"], status["readyNodeCount"]) == ("Degraded", 1)
    nodes_ready = next(c for c in status["conditions"] if c["type"] == "NodesReady")
    assert nodes_ready["status"] == "False" and "n3" in nodes_ready["message"]
    # AND an audit finding names it, as the system's
    finding = AuditEvent.objects.get(verb="report", name="n3")
    assert "NodeNotReady" in finding.message and finding.actor.startswith("system:")
    # AND the metric counts it
    from clusters.metrics import NodeCollector

    samples = {tuple(s.labels.values()): s.value for family in NodeCollector().collect() for s in family.samples}
    assert samples[("edge", "True")] == 3 and samples[("edge", "Unknown")] == 1


def test_a_status_unchanged_is_not_written_again(edge):
    assert run().result == "success"
    before = NodeGroup.objects.get(name="arm").resource_version
    assert run().result == "success"
    assert NodeGroup.objects.get(name="arm").resource_version == before


@pytest.mark.parametrize("fault", ["conflict", "unavailable", "no answer"])
def test_a_member_that_refuses_or_does_not_answer_mid_apply_is_retried_and_converges_once(edge, platform, fault):
    # GIVEN a template change for the group's nodes, and a member that refuses the first node write with a 409 or
    # a 503, or holds it past the client's timeout
    emulator, api = edge
    assert run().result == "success"
    group("arm", {"selector": {"matchLabels": {"kubernetes.io/arch": "arm64"}},
                  "template": {**TEMPLATE, "labels": {"site": "plant-2"}}}, platform)
    if fault == "no answer":
        emulator.delay_next(1, seconds=2.5, method="PATCH", path_contains="/nodes/", status=503)
    else:
        emulator.fail_next(1, status=409 if fault == "conflict" else 503, method="PATCH", path_contains="/nodes/")
    # WHEN the group is reconciled, THEN that attempt is retried at its step, with nothing half-recorded as done
    outcome = run()
    assert outcome.result == "retry", outcome
    status = NodeGroup.objects.get(name="arm").status
    assert status["retryCount"] == 1 and status.get("reason")
    # AND the next attempt applies the template to every node of the group
    assert run().result == "success"
    for name in ("n2", "n3"):
        assert api.read_node(name).metadata.labels["site"] == "plant-2"
    assert taints(api, "n3") == [("dedicated", "edge", "NoSchedule"), ("vendor", "x", "NoSchedule")]
    # AND once converged nothing is written again
    emulator.requests.clear()
    assert run().result == "success"
    assert emulator.requests.count_writes() == 0
