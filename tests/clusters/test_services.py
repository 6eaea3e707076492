"""The domain operations of ``clusters.services``, called directly: a cluster deleted with its contents, nodes
re-matched to node groups through the write path, children released by a deleted parent."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clusters import services
from clusters.models import Cluster, Namespace, Node, NodeGroup, Workspace
from edgeplatform.resources.errors import StatusError
from edgeplatform.resources.loader import apply
from iam.audit import actor
from iam.audit.models import AuditEvent
from iam.models import IAMRoleBinding

SCOPE = "scope.theriseunion.io/v1alpha1"


def mark() -> int:
    """The newest audit event id so far."""
    newest = AuditEvent.objects.order_by("-id").first()
    return newest.id if newest else 0


def events_since(start: int) -> list[tuple]:
    """(actor, verb, kind, name) of each event after ``start``, sorted."""
    return sorted((e.actor, e.verb, e.kind, e.name) for e in AuditEvent.objects.filter(id__gt=start))


def node(name: str, cluster: str, **labels) -> Node:
    """A node of ``cluster`` with ``labels``, through the write path."""
    return apply([{"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}],
                 context={"cluster": cluster})[0]


def nodegroup(name: str, cluster: str, match: dict) -> NodeGroup:
    """A node group whose selector matches ``match``."""
    return apply([{"apiVersion": SCOPE, "kind": "NodeGroup",
                   "metadata": {"name": name, "labels": {"scope.theriseunion.io/cluster": cluster}},
                   "spec": {"selector": {"matchLabels": match}}}])[0]


# --- delete_cluster --------------------------------------------------------------------------------------------

def test_a_cluster_is_deleted_with_its_contents_each_delete_audited(platform):
    """GIVEN a cluster with a workspace, a node group, a namespace, a node and a binding at the workspace,
    and another cluster WHEN delete_cluster is called for a superuser THEN the cluster and everything in it
    are gone, each as one delete event, the other cluster untouched."""
    platform.cluster("c1")
    platform.cluster("c2")
    platform.workspace("w1", "c1")
    platform.nodegroup("g1", "c1")
    platform.namespace("n1", "c1", "w1")
    platform.node("x1", "c1", "g1")
    platform.workspace("w2", "c2")
    root = platform.user("root", superuser=True)
    platform.bind("b-w1", "workspace-viewer", "workspace", "w1", users=("root",))
    start = mark()

    with actor("root"):
        services.delete_cluster(Cluster.objects.get(name="c1"), user=root)

    assert [(verb, kind, name) for _, verb, kind, name in events_since(start)] == [
        ("delete", "Cluster", "c1"), ("delete", "IAMRoleBinding", "b-w1"), ("delete", "Namespace", "n1"),
        ("delete", "Node", "x1"), ("delete", "NodeGroup", "g1"), ("delete", "Workspace", "w1")]
    assert {who for who, *_ in events_since(start)} == {"root"}
    assert not Cluster.objects.filter(name="c1").exists()
    for model in (Workspace, NodeGroup, Namespace, Node):
        assert not model.objects.filter(cluster__name="c1").exists(), model
    assert not IAMRoleBinding.objects.filter(name="b-w1").exists()
    assert Workspace.objects.filter(name="w2", cluster__name="c2").exists()


def test_delete_cluster_refuses_a_user_who_may_not_delete_it_and_keeps_everything(platform):
    """GIVEN a cluster with contents and a user bound as its viewer WHEN delete_cluster is called for them
    THEN it is a 403 and nothing is deleted."""
    platform.cluster("c1")
    platform.workspace("w1", "c1")
    viewer = platform.user("viewer")
    platform.bind("v-c1", "cluster-viewer", "cluster", "c1", users=("viewer",))

    with pytest.raises(StatusError) as refused:
        services.delete_cluster(Cluster.objects.get(name="c1"), user=viewer)

    assert refused.value.status_code == 403
    assert Cluster.objects.filter(name="c1").exists() and Workspace.objects.filter(name="w1").exists()


# --- rematch_nodes ---------------------------------------------------------------------------------------------

def _rematch_after_the_selector_changed(platform, staying: int) -> tuple[int, list, CaptureQueriesContext]:
    """A cluster whose group g1 selected site=a for nodes a1, a2, with ``staying`` nodes of another site; the
    selector is then changed behind the write path's back and the nodes re-matched."""
    cluster = platform.cluster("c1")
    nodegroup("g1", "c1", {"site": "a"})
    for name in ("a1", "a2"):
        node(name, "c1", site="a")
    for i in range(staying):
        node(f"s{i}", "c1", site="c")
    assert Node.objects.filter(nodegroup__name="g1").count() == 2
    NodeGroup.objects.filter(name="g1").update(spec={"selector": {"matchLabels": {"site": "z"}}})
    start = mark()
    with CaptureQueriesContext(connection) as queries:
        moved = services.rematch_nodes(cluster)
    return moved, events_since(start), queries


@pytest.mark.parametrize("staying", [3, 12])
def test_rematch_moves_nodes_through_the_write_path_one_event_each(platform, staying):
    """GIVEN nodes a1, a2 placed in g1 by its selector, and nodes that match no group WHEN g1's selector no
    longer matches them and rematch_nodes runs THEN a1 and a2 leave the group (their path is under the
    cluster), each one audited update, and the nodes that stay are not written."""
    moved, events, _ = _rematch_after_the_selector_changed(platform, staying)

    assert moved == 2
    assert events == [("system", "update", "Node", "a1"), ("system", "update", "Node", "a2")]
    for name in ("a1", "a2"):
        placed = Node.objects.get(name=name)
        assert placed.nodegroup_id is None and placed.scope_path == f"clusters/c1/nodes/{name}"
    assert not Node.objects.filter(nodegroup__isnull=False).exists()


def test_rematch_costs_the_same_queries_however_many_nodes_stay(platform):
    """GIVEN the same two nodes to move WHEN the cluster has 3 or 12 nodes that stay THEN rematch_nodes runs
    the same number of queries, and reads the cluster's node groups once."""
    counts = {}
    for staying in (3, 12):
        moved, _, queries = _rematch_after_the_selector_changed(platform, staying)
        assert moved == 2
        group_reads = [q["sql"] for q in queries.captured_queries
                       if q["sql"].lstrip().upper().startswith("SELECT") and 'FROM "clusters_nodegroup"' in q["sql"]]
        assert len(group_reads) == 1, group_reads
        counts[staying] = len(queries.captured_queries)
        _clear_fleet()
    assert counts[3] == counts[12], counts


def _clear_fleet() -> None:
    """Remove the fleet (through the write path) so the next run starts from an empty platform."""
    for cluster in Cluster.objects.all():
        services.delete_cluster(cluster)


def test_a_node_group_saved_through_the_write_path_rematches_its_cluster(platform):
    """GIVEN a node that matches no group WHEN a node group whose selector matches it is created THEN the node
    joins the group, its move an audited update."""
    platform.cluster("c1")
    node("e1", "c1", site="edge")
    start = mark()

    nodegroup("edge", "c1", {"site": "edge"})

    assert Node.objects.get(name="e1").scope_path == "clusters/c1/nodegroups/edge/nodes/e1"
    assert ("system", "update", "Node", "e1") in events_since(start)


# --- releasing children ------------------------------------------------------------------------------------------

def test_a_deleted_node_group_releases_its_nodes_to_the_other_groups_or_the_cluster(platform):
    """GIVEN a node placed in g1 by label and one by g1's selector, which g2's selector also matches WHEN g1 is
    deleted THEN the labelled node drops the label and sits under the cluster, the selected node moves to g2,
    each an audited update."""
    platform.cluster("c1")
    nodegroup("g1", "c1", {"site": "a"})
    nodegroup("g2", "c1", {"site": "a"})
    platform.node("labelled", "c1", "g1")
    node("selected", "c1", site="a")
    assert Node.objects.get(name="selected").nodegroup.name == "g1"
    start = mark()

    from edgeplatform.resources import services as write

    write.delete_object(NodeGroup._converter, NodeGroup.objects.get(name="g1"))

    assert Node.objects.get(name="labelled").scope_path == "clusters/c1/nodes/labelled"
    assert Node.objects.get(name="selected").scope_path == "clusters/c1/nodegroups/g2/nodes/selected"
    assert events_since(start) == [("system", "delete", "NodeGroup", "g1"), ("system", "update", "Node", "labelled"),
                                   ("system", "update", "Node", "selected")]
