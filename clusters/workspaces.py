"""A workspace's template kept on its member cluster, and its status counted (controller ``workspaces``).

Steps, each idempotent (read, compare, write only the difference):

* ``ensure_namespaces``: every namespace of ``spec.template.namespaces`` exists on the member with the labels
  ``theriseunion.io/workspace=<workspace>`` and ``theriseunion.io/managed=true`` (server-side apply, field manager
  ``edge-platform``); one deleted there is created again at the next reconcile. A namespace that is being deleted
  on the member is waited for (``NamespaceTerminating``) and then created again. A namespace removed from the
  template is **not** deleted from the member: it keeps its label, so it stays in the workspace until someone
  deletes it or moves it (deleting a tenant's namespace is never a side effect of editing a list). What was
  created is brought into the platform by the member sync (``cluster-members``), which is queued for the cluster.
* ``ensure_quotas``: ``spec.template.resourceQuotas`` (the reference's map of resource to quantity, e.g.
  ``{"requests.cpu": "4", "pods": "20"}``; a ResourceQuota spec ``{"hard": {...}}`` is read as well) becomes the
  ResourceQuota ``workspace-quota`` (``spec.hard``) in each template namespace, applied as ``edge-platform``;
  emptied, the quotas the platform wrote are deleted.
* ``ensure_counted``: the status the reference reports, written only when it changes::

      status:
        phase: Active                 # Active; Pending while the member cannot be reached or a step fails
        namespaceCount: 3             # namespaces of the workspace on the platform (template or labelled)
        memberCount: 2                # subjects bound at the workspace
        conditions: [{type: Ready, ...}]
"""
from __future__ import annotations

import logging

from django.db import transaction

from clusters.models import MANAGED_LABEL, Workspace
from edgeplatform import authz
from edgeplatform import kube as gateway
from edgeplatform.controllers.base import Controller, register
from edgeplatform.controllers.errors import PermanentError, TemporaryError
from edgeplatform.controllers.tasks import enqueue_each, enqueue_logged, task_for
from edgeplatform.kube import KubeNotConfigured, operations
from edgeplatform.resources import services as write
from edgeplatform.resources.names import WORKSPACE_LABEL

__all__ = ["CONTROLLER", "QUOTA_NAME", "WorkspaceController", "connect", "quota_hard", "reconcile_workspace"]

log = logging.getLogger(__name__)

#: the ResourceQuota the platform writes in each template namespace
QUOTA_NAME = "workspace-quota"
ACTIVE, PENDING = "Active", "Pending"


def quota_hard(template: dict) -> dict:
    """``spec.hard`` of the workspace's quota from ``template.resourceQuotas`` (a map of quantities, as the
    reference spells it, or a ResourceQuota spec with ``hard``); empty: no quota."""
    quotas = (template or {}).get("resourceQuotas") or {}
    if not isinstance(quotas, dict):
        return {}
    hard = quotas.get("hard") if isinstance(quotas.get("hard"), dict) else quotas
    return {str(key): str(value) for key, value in hard.items() if not isinstance(value, dict | list)}


def template_of(workspace: Workspace) -> dict:
    """``spec.template`` (empty when unset)."""
    return (workspace.spec or {}).get("template") or {}


@register
class WorkspaceController(Controller):
    """Keeps each workspace's template namespaces and quotas on its member cluster and counts its status."""

    name = "workspaces"
    model = Workspace
    steps = ("ensure_namespaces", "ensure_quotas", "ensure_counted")
    queue = "default"
    period_setting = "EDGE_WORKSPACE_PERIOD"

    def load(self, key):
        """The workspace with its cluster."""
        return Workspace.objects.select_related("cluster").filter(pk=key).first()

    def _client(self, workspace, run):
        run.status.update(_counts(workspace), phase=PENDING)
        try:
            return gateway.member_client(workspace.cluster)
        except KubeNotConfigured as error:
            raise TemporaryError(f"{error}: the template waits for the cluster's connection",
                                 reason="NoConnection", delay=self.period)

    def ensure_namespaces(self, workspace, run) -> None:
        """Each template namespace exists on the member with the workspace label (created when missing)."""
        names = list(template_of(workspace).get("namespaces") or [])
        if not names:  # nothing to keep on the member: no connection needed
            return
        client = self._client(workspace, run)
        wanted = {WORKSPACE_LABEL: workspace.name, MANAGED_LABEL: "true"}
        created, terminating = [], []
        for name in names:
            current = operations.get(client, "v1", "Namespace", name)
            if current is not None and (current.get("metadata") or {}).get("deletionTimestamp"):
                terminating.append(name)
                continue
            labels = ((current or {}).get("metadata") or {}).get("labels") or {}
            if current is not None and all(labels.get(key) == value for key, value in wanted.items()):
                continue
            other = labels.get(WORKSPACE_LABEL)
            if other and other != workspace.name:
                raise PermanentError(f'namespace "{name}" belongs to workspace "{other}" on the member: take it '
                                     "out of this workspace's template or out of that workspace",
                                     reason="NamespaceInOtherWorkspace")
            operations.apply(client, {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": name, "labels": wanted}})
            created.append(name)
        if created:
            cluster = workspace.cluster_id
            transaction.on_commit(lambda: _sync_members(cluster))
            log.info("workspace %s: namespaces %s written on %s", workspace.name, ", ".join(created),
                     workspace.cluster.name)
        if terminating:
            raise TemporaryError(f"namespace(s) {', '.join(terminating)} are being deleted on the member; they are "
                                 "created again once gone", reason="NamespaceTerminating", delay=5)

    def ensure_quotas(self, workspace, run) -> None:
        """``workspace-quota`` in each template namespace says ``spec.hard``; none when the template has none."""
        template = template_of(workspace)
        hard = quota_hard(template)
        if not template.get("namespaces"):
            return
        client = self._client(workspace, run)
        for name in template.get("namespaces") or []:
            current = operations.get(client, "v1", "ResourceQuota", QUOTA_NAME, name)
            if not hard:
                if current is not None and ((current.get("metadata") or {}).get("labels") or {}).get(
                        WORKSPACE_LABEL) == workspace.name:
                    operations.ensure_absent(client, "v1", "ResourceQuota", QUOTA_NAME, name)
                continue
            if current is not None and ((current.get("spec") or {}).get("hard") or {}) == hard:
                continue
            operations.apply(client, {"apiVersion": "v1", "kind": "ResourceQuota",
                                      "metadata": {"name": QUOTA_NAME, "namespace": name,
                                                   "labels": {WORKSPACE_LABEL: workspace.name,
                                                              MANAGED_LABEL: "true"}},
                                      "spec": {"hard": hard}})

    def ensure_counted(self, workspace, run) -> None:
        """The counts and phase of a workspace whose template is in place."""
        run.status.update(_counts(workspace), phase=ACTIVE)
        namespaces = len(template_of(workspace).get("namespaces") or [])
        run.message = f"{namespaces} template namespace(s) in place" if namespaces else ""


def _counts(workspace: Workspace) -> dict:
    members = authz.scope_members(workspace.scope_path)
    counts = {"namespaceCount": workspace.namespaces.count()}
    if members is not None:
        counts["memberCount"] = members
    return counts


def _sync_members(cluster_pk) -> None:
    from clusters.member_sync import MEMBER_SYNC

    enqueue_logged(MEMBER_SYNC, cluster_pk, "member sync of cluster")  # else the sync's period brings them in


def _enqueue(key) -> None:
    enqueue_logged(CONTROLLER, key, "reconcile of workspace")


def _on_saved(sender, *, obj, before=None, after=None, user=None, status_only=False, **kwargs) -> None:
    from clusters.models import Namespace

    if isinstance(obj, Workspace) and not status_only:
        key = obj.pk
        transaction.on_commit(lambda: _enqueue(key))
    elif isinstance(obj, Namespace) and user is not None and not status_only:
        # a person moved a namespace (the member sync's own changes queue the cluster's workspaces once per sync)
        was, now = (((m or {}).get("metadata") or {}).get("labels", {}).get(WORKSPACE_LABEL) for m in (before, after))
        if was != now:
            cluster, names = obj.cluster_id, {name for name in (was, now) if name}
            transaction.on_commit(lambda: _enqueue_named(cluster, names))


def _enqueue_named(cluster, names) -> None:
    enqueue_each(CONTROLLER, Workspace.objects.filter(cluster=cluster, name__in=names), "reconcile of workspace")


def connect() -> None:
    """Reconcile a workspace after its spec is written, and when a person moves a namespace (idempotent)."""
    write.object_saved.connect(_on_saved, dispatch_uid="clusters-workspaces-enqueue")


CONTROLLER = WorkspaceController
reconcile_workspace = task_for(CONTROLLER, "clusters.reconcile_workspace")
