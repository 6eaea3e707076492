"""Domain operations on scope objects: what deleting a cluster, a workspace or a node group does to what they hold,
and how nodes find their node group.

Every change these make goes through the write path (``edgeplatform.resources.services``) as the system, so each
is audited (with the actor in context) and synced like any other write. The converters' hooks name these
functions; surfaces that do such a thing on purpose call them directly.
"""
from __future__ import annotations

from clusters.annotations import vcluster_namespace
from clusters.models import Cluster, Namespace, Node, NodeGroup, Workspace
from edgeplatform.resources import labels as selectors
from edgeplatform.resources import services as write
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.names import NODEGROUP_LABEL, WORKSPACE_LABEL
from edgeplatform.resources.signals import scope_created, scope_deleted

__all__ = [
    "announce_created",
    "announce_deleted",
    "delete_cluster",
    "delete_cluster_contents",
    "matching_nodegroup",
    "nodegroups_of",
    "register_contents",
    "release_namespaces",
    "release_nodes",
    "rematch_nodes",
    "vcluster_namespace",
]

#: what a cluster holds, in the order it goes: what sits in a group before the group
CLUSTER_CONTENTS = (Node, Namespace, NodeGroup, Workspace)
#: models of other apps whose rows belong to one cluster (a ``cluster`` foreign key) and go first when it goes
#: (``register_contents``): the apps that build on clusters add theirs, so this app names none of them
_registered_contents: list = []


def register_contents(model) -> None:
    """Declare a model of another app whose rows a cluster holds (``cluster`` foreign key): they are deleted
    through the write path, each audited and synced, before the cluster's own contents (idempotent)."""
    if model not in _registered_contents:
        _registered_contents.append(model)


def delete_cluster(cluster: Cluster, *, user=None) -> None:
    """Delete a cluster with its contents in one transaction: ``user`` must be allowed to delete the cluster;
    its nodes, namespaces, node groups and workspaces (and the grants at each) then go one by one, each an
    audited, synced delete (``delete_cluster_contents``)."""
    write.delete_object(converter_for(cluster), cluster, user=user)


def delete_cluster_contents(cluster: Cluster) -> int:
    """Delete what ``cluster`` holds through the write path, not by the database's cascade (each delete audited
    and its custom resource removed); how many objects went. Contents other apps registered go first, and at
    once (``finalize``): a cluster that is going away is not waited on for an uninstall."""
    return sum(write.delete_all(model.objects.filter(cluster=cluster).select_related("cluster").order_by("name"),
                                finalize=True)
               for model in (*_registered_contents, *CLUSTER_CONTENTS))


def release_namespaces(workspace: Workspace) -> None:
    """Before a workspace goes, its namespaces leave it (they are not deleted): each drops the workspace label
    through the write path and then sits directly under the cluster."""
    for namespace in workspace.namespaces.select_related("cluster").order_by("name"):
        write.save_as_system(namespace, _drop_label(WORKSPACE_LABEL))


def release_nodes(group: NodeGroup) -> None:
    """Before a node group goes, its nodes leave it: each drops the group label through the write path and is
    placed again among the cluster's other groups (by their selectors), or directly under the cluster."""
    others = nodegroups_of(group.cluster, exclude=group)
    for node in group.nodes.select_related("cluster").order_by("name"):
        write.save_as_system(node, _drop_label(NODEGROUP_LABEL), {"nodegroups": others})


def _drop_label(label: str):
    def drop(manifest: dict) -> None:
        manifest["metadata"].get("labels", {}).pop(label, None)
    return drop


def nodegroups_of(cluster: Cluster, exclude: NodeGroup | None = None) -> list[NodeGroup]:
    """The node groups of ``cluster`` by name (one query), but ``exclude``: the candidates a node is matched
    against."""
    groups = NodeGroup.objects.filter(cluster=cluster).select_related("cluster").order_by("name")
    return list(groups.exclude(pk=exclude.pk) if exclude is not None else groups)


def matching_nodegroup(cluster: Cluster, node_labels: dict, groups: list[NodeGroup] | None = None) -> NodeGroup | None:
    """The first node group (by name) whose selector matches ``node_labels``, among ``groups`` (default: the
    node groups of ``cluster``, read once)."""
    for group in nodegroups_of(cluster) if groups is None else groups:
        selector = (group.spec or {}).get("selector")
        if selector and (selector.get("matchLabels") or selector.get("matchExpressions")) \
                and selectors.matches(selectors.from_label_selector(selector), node_labels):
            return group
    return None


def rematch_nodes(cluster: Cluster) -> int:
    """Place again the cluster's nodes that carry no node-group label, by the groups' selectors; return how many
    moved. The groups are read once; each node that moves is saved through the write path (audited, synced, its
    grants following its new path), and nodes that stay cost nothing more."""
    groups = nodegroups_of(cluster)
    moved = 0
    for node in Node.objects.filter(cluster=cluster).select_related("nodegroup", "cluster").order_by("name"):
        if node.labels.get(NODEGROUP_LABEL):
            continue
        group = matching_nodegroup(cluster, node.labels, groups)
        if (group.pk if group else None) != node.nodegroup_id \
                or Node.path_in(group or cluster, node.name) != node.scope_path:
            write.save_as_system(node, context={"nodegroups": groups})
            moved += 1
    return moved


def announce_created(obj, creator) -> None:
    """Tell the other apps that ``creator`` made a new scope object (the creator becomes its admin)."""
    scope_created.send(sender=type(obj), path=obj.scope_path, creator=creator)


def announce_deleted(obj) -> None:
    """Tell the other apps that a scope object is gone (the grants at and below it go with it)."""
    scope_deleted.send(sender=type(obj), path=obj.scope_path)
