"""Scope objects: Cluster → Workspace → Namespace and Cluster → NodeGroup → Node.

Each row stores its own scope path (``scope_path``) so that permission filters are
prefix matches on one indexed column; the path is recomputed on every save.
"""
from django.db import models

from edgeplatform.resources.models import ManifestModel
from edgeplatform.resources.names import (  # noqa: F401  (the labels of the scope kinds, imported from here too)
    CLUSTER_LABEL,
    NODEGROUP_LABEL,
    WORKSPACE_LABEL,
)
from edgeplatform.resources.scopes import PLATFORM, chain, join
from edgeplatform.resources.signals import scope_moved

MANAGED_LABEL = "theriseunion.io/managed"

__all__ = ["Cluster", "Namespace", "Node", "NodeGroup", "Workspace"]


class ScopeObject(ManifestModel):
    """A row that is itself a scope; subclasses say where they sit."""

    level = ""

    class Meta(ManifestModel.Meta):
        abstract = True

    def parent_path(self) -> str:
        """The path of the scope directly above this one."""
        return PLATFORM

    def compute_path(self) -> str:
        """This object's scope path."""
        return join(self.parent_path(), self.level, self.name)

    @property
    def path(self) -> str:
        """This object's scope path (stored)."""
        return self.scope_path

    @property
    def chain(self) -> tuple[str, ...]:
        """This object's path and its ancestors', most specific first, ending at ``platform``."""
        return chain(self.scope_path)

    @classmethod
    def from_db(cls, db, field_names, values):
        """Remember the stored path, so a save can tell that the object moved."""
        obj = super().from_db(db, field_names, values)
        obj._stored_path = obj.__dict__.get("scope_path")
        return obj

    def save(self, *args, **kwargs):
        """Store the path with the row; announce a move (rows and grants below it follow)."""
        old = getattr(self, "_stored_path", None)
        self.scope_path = self.compute_path()
        super().save(*args, **kwargs)
        self._stored_path = self.scope_path
        if old and old != self.scope_path:
            scope_moved.send(sender=type(self), old_path=old, new_path=self.scope_path)


class Cluster(ScopeObject):
    """A physical (imported) or virtual (vcluster) Kubernetes cluster."""

    level = "cluster"
    connection_secret = models.BinaryField(null=True, blank=True, editable=False)

    class Meta(ScopeObject.Meta):
        constraints = [models.UniqueConstraint(fields=["name"], name="cluster_name_unique")]


class InClusterScope(ScopeObject):
    """A scope object that sits right under its cluster (a workspace or a node group)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="%(class)ss")

    class Meta(ScopeObject.Meta):
        abstract = True
        constraints = [models.UniqueConstraint(fields=["name"], name="%(class)s_name_unique")]

    def parent_path(self) -> str:
        """The path of its cluster."""
        return join(PLATFORM, "cluster", self.cluster.name)


class Workspace(InClusterScope):
    """The application view: a tenant's namespaces in one cluster."""

    level = "workspace"

    class Meta(InClusterScope.Meta):
        pass


class NodeGroup(InClusterScope):
    """The infrastructure view: a set of nodes of one cluster (a site, a line, a rack)."""

    level = "nodegroup"

    class Meta(InClusterScope.Meta):
        pass


class Namespace(ScopeObject):
    """A Kubernetes namespace of a member cluster, in a workspace or on its own."""

    level = "namespace"
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="namespaces")
    workspace = models.ForeignKey(Workspace, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="namespaces")

    class Meta(ScopeObject.Meta):
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="namespace_name_unique")]

    def parent_path(self) -> str:
        """Under the workspace, or directly under the cluster when unassigned."""
        if self.workspace_id:
            return self.workspace.scope_path
        return join(PLATFORM, "cluster", self.cluster.name)


class Node(ScopeObject):
    """A node of a member cluster, in a node group or unassigned."""

    level = "node"
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="nodes")
    nodegroup = models.ForeignKey(NodeGroup, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="nodes")

    class Meta(ScopeObject.Meta):
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="node_name_unique")]

    def parent_path(self) -> str:
        """Under the node group, or directly under the cluster when unassigned."""
        if self.nodegroup_id:
            return self.nodegroup.scope_path
        return join(PLATFORM, "cluster", self.cluster.name)
