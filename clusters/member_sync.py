"""Nodes and namespaces brought in from each member cluster and kept current, and the platform's assignments
written back.

**Member → platform** (``MemberSync``, keyed by cluster, period ``EDGE_CLUSTER_SYNC_PERIOD``): one paged LIST of
the member's Nodes and one of its Namespaces, compared object by object with the platform's rows. Only what
differs is written, through the write path as the system (audited, synced): a new object is created, changed
labels are saved (``save_manifest``, so the converter places a node in its group by label or selector and a
namespace in its workspace), a changed observed state is a status write (``save_status``), an object gone from the
member is deleted (``delete_object``). An unchanged cluster costs one LIST per kind and no database write: the
stored status leaves out what moves on its own (a condition's ``lastHeartbeatTime``), so a quiet node compares
equal. A member that does not answer fails the attempt before anything is touched (rows kept) and the controller
base retries it with backoff.

**Platform → member** (``push_label``): a write through the API that changes a node's ``theriseunion.io/nodegroup``
or a namespace's ``theriseunion.io/workspace`` label is applied to the member after commit, as a server-side
apply of that label alone (field manager ``edge-platform``), so the next sync finds both sides equal.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from clusters.manifests import LIFECYCLE_ANNOTATION
from clusters.models import Cluster, Namespace, Node, NodeGroup, Workspace
from edgeplatform import auditing
from edgeplatform import kube as gateway
from edgeplatform.controllers.base import Controller, register
from edgeplatform.controllers.status import notable
from edgeplatform.kube import KubeNotConfigured, operations
from edgeplatform.resources import services as write
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.names import CLUSTER_LABEL, NODEGROUP_LABEL, WORKSPACE_LABEL

__all__ = ["EDGE_RUNTIME_LABELS", "MEMBER_SYNC", "MemberSync", "edge_runtime", "label_change", "namespace_status",
           "node_status", "push_label", "recount", "report_not_ready", "sync_cluster"]

log = logging.getLogger(__name__)

#: the label each edge runtime puts on its edge nodes, and the value it sets (``None``: any value)
EDGE_RUNTIME_LABELS = (("kubeedge", "node-role.kubernetes.io/edge", None),
                       ("openyurt", "openyurt.io/is-edge-worker", "true"))
#: status fields the platform writes itself, kept when the member's observed state is stored
PLATFORM_STATUS = ("lifecycle",)
#: condition fields that change without the node changing (the kubelet's heartbeat): not stored
_VOLATILE = ("lastHeartbeatTime",)


def edge_runtime(labels: dict) -> str:
    """``kubeedge`` or ``openyurt`` when a node carries that runtime's edge-node label, else ``none``."""
    for runtime, label, value in EDGE_RUNTIME_LABELS:
        if label in labels and (value is None or str(labels[label]).lower() == value):
            return runtime
    return "none"


def node_status(member: dict) -> dict:
    """What the platform stores as a node's status: its conditions (without heartbeats), capacity, allocatable,
    nodeInfo and addresses as the member reports them, ``ready`` (the Ready condition: True, False or Unknown)
    and the ``edgeRuntime`` it runs."""
    observed = member.get("status") or {}
    conditions = [{k: v for k, v in condition.items() if k not in _VOLATILE}
                  for condition in observed.get("conditions") or [] if isinstance(condition, dict)]
    ready = next((c.get("status") for c in conditions if c.get("type") == "Ready"), "Unknown")
    status = {"conditions": conditions, "ready": ready,
              "edgeRuntime": edge_runtime((member.get("metadata") or {}).get("labels") or {})}
    for key in ("capacity", "allocatable", "nodeInfo", "addresses"):
        if observed.get(key):
            status[key] = observed[key]
    return status


def namespace_status(member: dict) -> dict:
    """A namespace's status as the member reports it (its ``phase``, and conditions while terminating)."""
    observed = member.get("status") or {}
    return {key: observed[key] for key in ("phase", "conditions") if observed.get(key)}


class _Kind:
    """What the sync needs to know of one kind: the row model, its grouping label and the parents' model."""

    def __init__(self, kind, model, label, parent_model, status_of):
        self.kind, self.model, self.label, self.parent_model, self.status_of = (kind, model, label, parent_model,
                                                                                status_of)


KINDS = (_Kind("Node", Node, NODEGROUP_LABEL, NodeGroup, node_status),
         _Kind("Namespace", Namespace, WORKSPACE_LABEL, Workspace, namespace_status))


def _labels(member: dict, kind: _Kind, parents: set) -> dict:
    """The member object's labels as the row keeps them: without our cluster label, and without a grouping label
    that names no group or workspace of the platform (the object then sits under its cluster)."""
    labels = dict((member.get("metadata") or {}).get("labels") or {})
    labels.pop(CLUSTER_LABEL, None)
    if labels.get(kind.label) and labels[kind.label] not in parents:
        log.warning("%s %s names %s %r, which the platform does not know: left under its cluster",
                    kind.kind, member["metadata"]["name"], kind.label, labels[kind.label])
        labels.pop(kind.label)
    return labels


def _sync_kind(cluster: Cluster, client, kind: _Kind, counts: dict) -> None:
    members = operations.list_objects(client, "v1", kind.kind, page_size=settings.EDGE_CLUSTER_SYNC_PAGE_SIZE)
    counts[f"{kind.kind.lower()}ResourceVersion"] = members.resource_version
    converter = converter_for(kind.model)
    rows = {row.name: row for row in kind.model.objects.filter(cluster=cluster).select_related("cluster")}
    parent_rows = list(kind.parent_model.objects.filter(cluster=cluster).select_related("cluster").order_by("name"))
    parents = {parent.name for parent in parent_rows}
    context = {"cluster": cluster.name}
    if kind.model is Node:
        context["nodegroups"] = parent_rows  # read once: each node is matched against the same groups
    seen = set()
    for member in members:
        name = member["metadata"]["name"]
        seen.add(name)
        labels, status = _labels(member, kind, parents), kind.status_of(member)
        row = rows.get(name)
        if row is not None:  # what the platform itself reports in the status stays (a node's lifecycle)
            status.update({key: row.status[key] for key in PLATFORM_STATUS if key in (row.status or {})})
        if row is None:
            row = write.save_manifest(converter, {"apiVersion": "v1", "kind": kind.kind,
                                                  "metadata": {"name": name, "labels": labels}},
                                      url_name=name, context=context)
            counts["created"] += 1
        elif row.labels != labels:
            manifest = converter.to_manifest(row)
            manifest["metadata"]["labels"] = labels
            row = write.save_manifest(converter, manifest, instance=row, url_name=name, context=context)
            counts["updated"] += 1
        if (row.status or {}) != status:
            was = (row.status or {}).get("ready")
            write.save_status(row, lambda current, status=status: status, notable=notable)
            counts["statusUpdated"] += 1
            if kind.model is Node and was == "True" and status.get("ready") != "True":
                report_not_ready(row, status)
    for name, row in sorted(rows.items()):
        if name not in seen and (row.annotations or {}).get(LIFECYCLE_ANNOTATION) != "decommissioned":
            # a node being decommissioned is removed by its lifecycle controller, which announces it
            write.delete_object(converter, row)
            counts["deleted"] += 1


def report_not_ready(node: Node, status: dict) -> None:
    """A node that was Ready and is not: an audit finding as the system (verb ``report``, the node's scope), beside
    the Ready condition its status carries and the ``cluster_nodes`` figures."""
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    auditing.record("report", resource="nodes", kind="Node", name=node.name, scope_path=node.scope_path,
                    message=f'NodeNotReady: node "{node.name}" of cluster "{node.cluster.name}" is '
                            f'{"NotReady" if status.get("ready") == "False" else "not reporting (Unknown)"}'
                            f'{": " + ready["message"] if ready.get("message") else ""}')
    log.warning("node %s of cluster %s is not Ready (%s)", node.name, node.cluster.name, status.get("ready"))


def sync_cluster(cluster: Cluster) -> dict | None:
    """Bring the member's nodes and namespaces into the platform (module docstring); what changed, by count, or
    None when the cluster has no stored connection. A member that does not answer raises before any write."""
    try:
        client = gateway.member_client(cluster)
    except KubeNotConfigured:
        return None
    counts = {"created": 0, "updated": 0, "statusUpdated": 0, "deleted": 0}
    for kind in KINDS:
        # one transaction per kind: a failure half-way leaves the kind as it was, and the next attempt redoes it
        with transaction.atomic():
            _sync_kind(cluster, client, kind, counts)
    return counts


@register
class MemberSync(Controller):
    """Per cluster with a connection, the member's Nodes and Namespaces listed and brought in (module docstring)."""

    name = "cluster-members"
    model = Cluster
    steps = ("ensure_members_observed",)
    queue = "sync"
    writes_status = False

    period_setting = "EDGE_CLUSTER_SYNC_PERIOD"

    def keys(self):
        """The clusters that have a stored connection."""
        return Cluster.objects.filter(connection_secret__isnull=False).values_list("pk", "generation").iterator()

    def cluster_of(self, obj) -> str:
        """The cluster is the object."""
        return obj.name

    def ensure_members_observed(self, cluster, run) -> None:
        """One LIST of nodes and one of namespaces; only the differences written."""
        counts = sync_cluster(cluster)
        if counts is None:
            run.reason, run.message = "NoConnection", f'cluster "{cluster.name}" has no stored connection'
            return
        run.result = {"cluster": cluster.name, **counts}
        if any(counts[key] for key in ("created", "updated", "statusUpdated", "deleted")):
            recount(cluster)


def recount(cluster: Cluster) -> None:
    """After a sync that changed something: the cluster's workspaces and node groups are reconciled once each
    (their counts and readiness, a template for nodes that joined a group), not once per object that moved."""
    from clusters import nodegroups, workspaces
    from edgeplatform.controllers.tasks import enqueue

    for controller, model in ((workspaces.CONTROLLER, Workspace), (nodegroups.CONTROLLER, NodeGroup)):
        for key in model.objects.filter(cluster=cluster).values_list("pk", flat=True):
            try:
                enqueue(controller, key)
            except Exception:  # the broker is down: their own period brings them up to date
                log.exception("could not queue %s %s after the sync of %s", controller.name, key, cluster.name)
                return


MEMBER_SYNC = MemberSync


# --- platform → member ------------------------------------------------------------------------------------------
_LABEL_OF = {"Node": NODEGROUP_LABEL, "Namespace": WORKSPACE_LABEL}


def label_change(kind: str, before: dict | None, after: dict | None) -> tuple[str, str | None] | None:
    """``(label, value)`` when a write changed the kind's grouping label (``value`` None: removed), else None."""
    label = _LABEL_OF.get(kind)
    if label is None:
        return None
    was = ((before or {}).get("metadata") or {}).get("labels", {}).get(label)
    now = ((after or {}).get("metadata") or {}).get("labels", {}).get(label)
    return (label, now) if was != now else None


def push_label(cluster_name: str, kind: str, name: str, label: str, value: str | None) -> str:
    """Make the member's object carry ``label=value`` (or not carry it): a server-side apply of that label alone
    as ``edge-platform``; a removal is a merge patch of that label alone (whoever set it). Idempotent; an object the
    member does not have is left alone (the platform never creates nodes there). Returns what it did."""
    cluster = Cluster.objects.filter(name=cluster_name).first()
    if cluster is None:
        return "no-cluster"
    try:
        client = gateway.member_client(cluster)
    except KubeNotConfigured:
        return "no-connection"
    current = operations.get(client, "v1", kind, name)
    if current is None:
        return "absent"
    labels = (current.get("metadata") or {}).get("labels") or {}
    if labels.get(label) == value:
        return "unchanged"
    if value is None:
        # an apply can only drop what it owns, and the label may be another manager's (kubectl label, keadm)
        operations.merge_patch(client, "v1", kind, name, {"metadata": {"labels": {label: None}}})
        return "removed"
    operations.apply(client, {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "labels": {label: value}}})
    return "applied"


def _on_saved(sender, *, converter, obj, before=None, after=None, user=None, status_only=False, **kwargs) -> None:
    # only a person's write goes back to the member: the sync's own writes (user None) came from there
    if user is None or status_only or not isinstance(obj, (Node, Namespace)):
        return
    change = label_change(converter.kind, before, after)
    if change is None:
        return
    args = (obj.cluster.name, converter.kind, obj.name, *change)

    def queue():
        from clusters.tasks import push_member_label

        try:
            push_member_label.delay(*args)
        except Exception:  # the broker is down: the assignment is committed; the member keeps its old label
            log.exception("could not queue the label write of %s %s on %s", args[1], args[2], args[0])

    transaction.on_commit(queue)


def connect() -> None:
    """Listen to the write path (idempotent)."""
    write.object_saved.connect(_on_saved, dispatch_uid="clusters-push-member-label")

