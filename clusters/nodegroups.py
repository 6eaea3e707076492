"""A node group's template kept applied to its nodes, and its status counted (controller ``nodegroups``).

Steps, each idempotent:

* ``ensure_template``: one LIST of the member's nodes; every node of the group (by label or by selector, as the
  platform places it) carries ``spec.template`` — labels, annotations and taints — through a server-side apply
  with its own field manager ``edge-platform-nodegroups``, plus the annotation
  ``nodegroup.theriseunion.io/template`` recording the group and the taint keys it set. Because apply owns what it
  sent, a label or annotation dropped from the template is removed from the node by the next apply, and a node
  that left the group (relabelled, no longer matched, its group deleted) is applied an empty template: it loses
  them all. Taints are one atomic list on a Node, so the list applied is the node's other taints (those the
  record does not name) plus the template's. A node whose fields already say so costs no write.
* ``ensure_counted``: the status, written only when it changes::

      status:
        phase: Ready                  # Ready; Degraded while a node is not Ready; Pending while a step fails
        nodeCount: 5                  # nodes of the group on the platform
        readyNodeCount: 4
        memberCount: 1                # subjects bound at the group
        conditions:
        - {type: Ready, ...}
        - {type: NodesReady, status: "False", reason: NodesNotReady, message: "1 of 5 node(s) not Ready: n3"}
"""
from __future__ import annotations

import json
import logging

from django.db import transaction

from clusters.models import Node, NodeGroup
from edgeplatform import authz
from edgeplatform import kube as gateway
from edgeplatform.controllers.base import Controller, register
from edgeplatform.controllers.errors import TemporaryError
from edgeplatform.controllers.status import condition
from edgeplatform.controllers.tasks import enqueue_each, enqueue_logged, task_for
from edgeplatform.kube import KubeNotConfigured, operations
from edgeplatform.resources import services as write

__all__ = [
    "CONTROLLER",
    "FIELD_MANAGER",
    "RECORD_ANNOTATION",
    "NodeGroupController",
    "connect",
    "desired_fields",
    "reconcile_nodegroup",
]

log = logging.getLogger(__name__)

#: the field manager of node-group templates: its own, so that other writes of ``edge-platform`` on a node (a
#: membership label, a cordon) neither drop the template's fields nor are dropped by them
FIELD_MANAGER = "edge-platform-nodegroups"
#: on each node the group's template was applied to: which group, and the taint keys it set
RECORD_ANNOTATION = "nodegroup.theriseunion.io/template"
READY, DEGRADED, PENDING = "Ready", "Degraded", "Pending"


def _taint_key(taint: dict) -> str:
    return f"{taint.get('key')}:{taint.get('effect')}"


def _taint_id(taint: dict) -> tuple:
    return taint.get("key"), taint.get("value") or "", taint.get("effect")


def owned_fields(member: dict) -> dict:
    """What ``edge-platform-nodegroups`` owns on a member node, from its ``managedFields``: label and annotation
    keys, and whether it holds the taint list."""
    owned = {"labels": set(), "annotations": set(), "taints": False}
    for entry in (member.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") != FIELD_MANAGER or entry.get("operation") not in (None, "Apply"):
            continue
        fields = entry.get("fieldsV1") or {}
        meta = fields.get("f:metadata") or {}
        for kind in ("labels", "annotations"):
            owned[kind] |= {key[2:] for key in meta.get(f"f:{kind}") or {} if key.startswith("f:")}
        owned["taints"] = owned["taints"] or "f:taints" in (fields.get("f:spec") or {})
    return owned


def _record_of(member: dict) -> dict:
    raw = ((member.get("metadata") or {}).get("annotations") or {}).get(RECORD_ANNOTATION)
    try:
        record = json.loads(raw) if raw else {}
    except ValueError:
        record = {}
    return record if isinstance(record, dict) else {}


def desired_fields(member: dict, group: NodeGroup | None) -> dict:
    """The apply configuration of ``edge-platform-nodegroups`` for a member node: its group's template (None: no
    group, nothing of a template left), with the node's other taints kept."""
    template = ((group.spec or {}).get("template") or {}) if group is not None else {}
    ours = [dict(taint) for taint in template.get("taints") or []]
    previous = set(_record_of(member).get("taints") or [])
    mine = previous | {_taint_key(taint) for taint in ours}
    others = [taint for taint in (member.get("spec") or {}).get("taints") or [] if _taint_key(taint) not in mine]
    metadata = {"name": member["metadata"]["name"]}
    if group is not None and (template.get("labels") or template.get("annotations") or ours):
        if template.get("labels"):
            metadata["labels"] = dict(template["labels"])
        metadata["annotations"] = {**(template.get("annotations") or {}), RECORD_ANNOTATION: json.dumps(
            {"group": group.name, "taints": sorted(_taint_key(taint) for taint in ours)}, sort_keys=True)}
    body = {"apiVersion": "v1", "kind": "Node", "metadata": metadata}
    taints = others + ours
    if taints and (ours or owned_fields(member)["taints"]):
        body["spec"] = {"taints": taints}
    return body


def in_place(member: dict, body: dict) -> bool:
    """Whether the member node already carries exactly what ``body`` would apply (no write needed)."""
    owned = owned_fields(member)
    meta = member.get("metadata") or {}
    for kind in ("labels", "annotations"):
        wanted = body["metadata"].get(kind) or {}
        current = meta.get(kind) or {}
        if set(wanted) != owned[kind] or any(current.get(key) != value for key, value in wanted.items()):
            return False
    wanted_taints = (body.get("spec") or {}).get("taints")
    if wanted_taints is None:
        return not owned["taints"]
    current = (member.get("spec") or {}).get("taints") or []
    return owned["taints"] and sorted(map(_taint_id, current)) == sorted(map(_taint_id, wanted_taints))


@register
class NodeGroupController(Controller):
    """Keeps each node group's template applied to its nodes and counts its status."""

    name = "nodegroups"
    model = NodeGroup
    steps = ("ensure_template", "ensure_counted")
    queue = "default"
    period_setting = "EDGE_NODEGROUP_PERIOD"

    def load(self, key):
        """The group with its cluster."""
        return NodeGroup.objects.select_related("cluster").filter(pk=key).first()

    def ensure_template(self, group, run) -> None:
        """Apply the template to the group's nodes; take it off nodes that left the group."""
        run.status.update(_counts(group), phase=PENDING)
        try:
            client = gateway.member_client(group.cluster)
        except KubeNotConfigured as error:
            raise TemporaryError(f"{error}: the template waits for the cluster's connection",
                                 reason="NoConnection", delay=self.period)
        mine = set(Node.objects.filter(nodegroup=group).values_list("name", flat=True))
        groups = set(NodeGroup.objects.filter(cluster=group.cluster_id).values_list("name", flat=True))
        applied = removed = 0
        for member in operations.list_objects(client, "v1", "Node"):
            name = member["metadata"]["name"]
            recorded = _record_of(member).get("group")
            if name in mine:
                body = desired_fields(member, group)
            elif recorded == group.name or (recorded and recorded not in groups):
                body = desired_fields(member, None)  # it left this group (or its group is gone)
            else:
                continue
            if in_place(member, body):
                continue
            operations.apply(client, body, field_manager=FIELD_MANAGER)
            if name in mine:
                applied += 1
            else:
                removed += 1
        run.result = {"nodegroup": group.name, "applied": applied, "removed": removed}

    def ensure_counted(self, group, run) -> None:
        """Node counts, readiness and phase."""
        counts = _counts(group)
        not_ready = sorted(Node.objects.filter(nodegroup=group).exclude(status__ready="True")
                           .values_list("name", flat=True))
        run.status.update(counts, phase=DEGRADED if not_ready else READY)
        now, generation = _now(), self.generation_of(group)
        if not_ready:
            shown = ", ".join(not_ready[:10]) + (" …" if len(not_ready) > 10 else "")
            run.conditions.append(condition("NodesReady", False, "NodesNotReady",
                                            f"{len(not_ready)} of {counts['nodeCount']} node(s) not Ready: {shown}",
                                            generation, now))
        else:
            run.conditions.append(condition("NodesReady", True, "AllNodesReady",
                                            f"{counts['nodeCount']} node(s) Ready", generation, now))


def _now():
    from edgeplatform.controllers import clock

    return clock.now()


def _counts(group: NodeGroup) -> dict:
    nodes = Node.objects.filter(nodegroup=group)
    counts = {"nodeCount": nodes.count(), "readyNodeCount": nodes.filter(status__ready="True").count()}
    members = authz.scope_members(group.scope_path)
    if members is not None:
        counts["memberCount"] = members
    return counts


def _enqueue(key) -> None:
    enqueue_logged(CONTROLLER, key, "reconcile of node group")


def _group_label(manifest: dict | None):
    from edgeplatform.resources.names import NODEGROUP_LABEL

    return (((manifest or {}).get("metadata") or {}).get("labels") or {}).get(NODEGROUP_LABEL)


def _on_saved(sender, *, obj, before=None, after=None, user=None, status_only=False, **kwargs) -> None:
    if isinstance(obj, NodeGroup) and not status_only:
        key = obj.pk
        transaction.on_commit(lambda: _enqueue(key))
    elif isinstance(obj, Node) and user is not None and not status_only:
        # a person moved a node (the member sync's own changes queue the cluster's groups once per sync)
        names = {_group_label(before), _group_label(after)} if _group_label(before) != _group_label(after) \
            else set()
        names.discard(None)
        if names:
            cluster = obj.cluster_id
            transaction.on_commit(lambda: _enqueue_named(cluster, names))


def _enqueue_named(cluster, names) -> None:
    """After commit (the write's transaction reads no group for it): the groups of those names."""
    enqueue_each(CONTROLLER, NodeGroup.objects.filter(cluster=cluster, name__in=names), "reconcile of node group")


def connect() -> None:
    """Reconcile a group after its spec is written and when a person moves a node into or out of it."""
    write.object_saved.connect(_on_saved, dispatch_uid="clusters-nodegroups-enqueue")


CONTROLLER = NodeGroupController
reconcile_nodegroup = task_for(CONTROLLER, "clusters.reconcile_nodegroup")
