"""Keep paths true when scope objects move or go away, and tell the other apps."""
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from clusters.models import Cluster, Namespace, Node, NodeGroup, Workspace
from edgeplatform.resources.names import NODEGROUP_LABEL, WORKSPACE_LABEL
from edgeplatform.resources.signals import scope_deleted


@receiver(pre_delete, sender=Workspace)
def _detach_namespaces(sender, instance, **kwargs):
    """A deleted workspace releases its namespaces to the cluster (they are not deleted)."""
    _release(instance.namespaces, WORKSPACE_LABEL, "workspace")


@receiver(pre_delete, sender=NodeGroup)
def _detach_nodes(sender, instance, **kwargs):
    """A deleted node group releases its nodes to the cluster."""
    _release(instance.nodes, NODEGROUP_LABEL, "nodegroup")


def _release(children, label: str, parent_field: str) -> None:
    """Move each child out of its deleted parent: drop the grouping label (through the write path, so the
    change is audited); the child then sits directly under the cluster and announces its new path."""
    from edgeplatform.resources import services

    def drop_label(manifest: dict) -> None:
        manifest["metadata"].get("labels", {}).pop(label, None)

    for child in children.select_related("cluster"):
        services.save_as_system(child, drop_label)


def move(obj) -> None:
    """Save a scope object whose parent changed (its save announces the new path)."""
    obj.resource_version += 1
    obj.save()


@receiver(post_delete, sender=Cluster)
@receiver(post_delete, sender=Workspace)
@receiver(post_delete, sender=NodeGroup)
@receiver(post_delete, sender=Namespace)
@receiver(post_delete, sender=Node)
def _announce_delete(sender, instance, **kwargs):
    scope_deleted.send(sender=sender, path=instance.scope_path)
