"""Domain operations on scope objects that several surfaces call."""
from clusters.models import NODEGROUP_LABEL, Cluster, Node, NodeGroup
from clusters.signals import move
from edgeplatform.resources import labels as selectors


def matching_nodegroup(cluster: Cluster, node_labels: dict) -> NodeGroup | None:
    """The first node group of ``cluster`` (by name) whose selector matches ``node_labels``."""
    for group in NodeGroup.objects.filter(cluster=cluster).order_by("name"):
        selector = (group.spec or {}).get("selector")
        if selector and (selector.get("matchLabels") or selector.get("matchExpressions")) \
                and selectors.matches(selectors.from_label_selector(selector), node_labels):
            return group
    return None


def rematch_nodes(cluster: Cluster) -> int:
    """Re-place the cluster's nodes that carry no node-group label; return how many moved."""
    moved = 0
    for node in Node.objects.filter(cluster=cluster).select_related("nodegroup", "cluster"):
        if node.labels.get(NODEGROUP_LABEL):
            continue
        group = matching_nodegroup(cluster, node.labels)
        if (group.pk if group else None) != node.nodegroup_id:
            node.nodegroup = group
            move(node)
            moved += 1
    return moved
