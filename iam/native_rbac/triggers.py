"""When grants or scopes change, queue the RBAC reconciles they call for, once, after the commit.

Changes are collected per transaction (one batch registered with ``on_commit``), so saving a hundred
namespaces in one transaction queues one reconcile of their cluster; a rolled-back transaction queues nothing.
A binding change queues the cheap per-binding reconcile; a change of a role, template, namespace, node,
cluster connection or a user's enabled state queues a full reconcile of the clusters it touches.
"""
from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from clusters.models import Cluster, Namespace, Node
from edgeplatform.resources import scopes
from iam.models import IAMRole, IAMRoleBinding, RoleTemplate, User

log = logging.getLogger(__name__)


class _Batch:
    """The reconciles one transaction asked for (cluster names; (cluster name, binding name) pairs)."""

    def __init__(self):
        self.clusters: set[str] = set()
        self.bindings: set[tuple[str, str]] = set()
        self.everything = False

    def __call__(self):
        from iam.native_rbac import tasks

        names = {*self.clusters, *(c for c, _ in self.bindings)}
        rows = Cluster.objects.all() if self.everything else Cluster.objects.filter(name__in=names)
        ids = dict(rows.values_list("name", "pk"))
        try:
            for name in sorted(ids if self.everything else self.clusters & set(ids)):
                tasks.reconcile_cluster_task.delay(ids[name])
            for cluster, binding in sorted(self.bindings):
                if cluster in ids and cluster not in self.clusters and not self.everything:
                    tasks.reconcile_binding_task.delay(ids[cluster], binding=binding)
        except Exception:  # a broker outage must not fail the commit that already happened; beat catches up
            log.exception("native RBAC: could not queue reconciles for %s", sorted(ids))


def _batch() -> tuple[_Batch, bool]:
    """This transaction's batch and whether it is registered already."""
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        for entry in connection.run_on_commit:
            if isinstance(entry[1], _Batch):
                return entry[1], True
    return _Batch(), False


def schedule(clusters=(), bindings=(), everything: bool = False) -> None:
    """Queue reconciles after the current transaction commits (at once outside a transaction)."""
    batch, registered = _batch()
    batch.clusters.update(c for c in clusters if c)
    batch.bindings.update((c, b) for c, b in bindings if c)
    batch.everything = batch.everything or everything
    if not registered:
        transaction.on_commit(batch)


def _remember_path(sender, instance, **kwargs):
    """Before a save: the row's stored scope path (a move must reconcile where it was, too)."""
    instance._rbac_old_path = sender.objects.filter(pk=instance.pk).values_list("scope_path", flat=True).first() \
        if instance.pk else None


# scope objects remember their stored path themselves (``ScopeObject._stored_path``); bindings do not
pre_save.connect(_remember_path, sender=IAMRoleBinding, dispatch_uid="rbac-old-path-IAMRoleBinding")


@receiver(post_save, sender=IAMRoleBinding)
@receiver(post_delete, sender=IAMRoleBinding)
def _binding_changed(sender, instance, **kwargs):
    # a binding moved to another cluster is reconciled in both: removed from the old, written to the new
    for path in {instance.scope_path, getattr(instance, "_rbac_old_path", None) or instance.scope_path}:
        cluster = scopes.cluster_of(path)
        if cluster:
            schedule(bindings=[(cluster, instance.name)])


@receiver(post_save, sender=IAMRole)
def _role_changed(sender, instance, **kwargs):
    paths = IAMRoleBinding.objects.filter(role=instance).values_list("scope_path", flat=True).distinct()
    schedule(clusters={scopes.cluster_of(path) for path in paths})


@receiver(post_save, sender=RoleTemplate)
@receiver(post_delete, sender=RoleTemplate)
def _template_changed(sender, instance, **kwargs):
    # any role may aggregate the template (re-aggregation writes roles without signals)
    if IAMRoleBinding.objects.exclude(scope_path=scopes.PLATFORM).exists():
        schedule(everything=True)


@receiver(post_save, sender=Namespace)
@receiver(post_save, sender=Node)
def _scope_member_saved(sender, instance, created, **kwargs):
    # a namespace (node) added or moved to another workspace (node group) changes the fan-out; a status update
    # (same path) does not
    if created or getattr(instance, "_stored_path", instance.scope_path) != instance.scope_path:
        schedule(clusters=[scopes.cluster_of(instance.scope_path)])


@receiver(post_delete, sender=Namespace)
@receiver(post_delete, sender=Node)
def _scope_member_deleted(sender, instance, **kwargs):
    schedule(clusters=[scopes.cluster_of(instance.scope_path)])


def _connection(cluster) -> tuple:
    return (cluster.spec or {}).get("connection"), bytes(cluster.connection_secret or b""), cluster.labels


@receiver(pre_save, sender=Cluster)
def _cluster_before(sender, instance, **kwargs):
    if instance.pk:
        old = Cluster.objects.filter(pk=instance.pk).only("spec", "connection_secret", "labels").first()
        instance._rbac_connection = _connection(old) if old else None


@receiver(post_save, sender=Cluster)
def _cluster_changed(sender, instance, created, **kwargs):
    # a new cluster or a changed connection: bring the cluster up to date (status updates do not count)
    if created or getattr(instance, "_rbac_connection", None) != _connection(instance):
        schedule(clusters=[instance.name])


@receiver(pre_save, sender=User)
def _user_before(sender, instance, **kwargs):
    if instance.pk:
        instance._rbac_active = User.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()


@receiver(post_save, sender=User)
def _user_changed(sender, instance, created, **kwargs):
    # disabling (or enabling) a user takes them out of (puts them back into) the subjects of their bindings
    if created or getattr(instance, "_rbac_active", instance.is_active) == instance.is_active:
        return
    paths = (IAMRoleBinding.objects.filter(subject_rows__kind="User", subject_rows__name=instance.name)
             .values_list("scope_path", flat=True).distinct())
    schedule(clusters={scopes.cluster_of(path) for path in paths})
