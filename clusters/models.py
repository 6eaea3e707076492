"""Scope objects: Cluster → Workspace → Namespace and Cluster → NodeGroup → Node.

Each row stores its own scope path (``scope_path``) so that permission filters are
prefix matches on one indexed column; the path is recomputed on every save, by the one
rule ``path_in`` that the converters also ask before a write.

A cluster's type, phase and readiness are also kept in typed, indexed columns, derived
from its spec and status on every save (``cluster_columns``), so that filters and counts
need no JSON lookups. The manifest is unchanged: the columns are never shown or read from it.
"""
from django.db import models
from django.utils import timezone

from edgeplatform.resources.models import ManifestModel
from edgeplatform.resources.names import (  # noqa: F401  (the labels of the scope kinds, imported from here too)
    CLUSTER_LABEL,
    NODEGROUP_LABEL,
    WORKSPACE_LABEL,
)
from edgeplatform.resources.scopes import PLATFORM, chain, join
from edgeplatform.resources.signals import scope_moved

MANAGED_LABEL = "theriseunion.io/managed"

__all__ = ["CLUSTER_COLUMNS", "Cluster", "JoinToken", "Namespace", "Node", "NodeGroup", "NodeJoin", "Workspace",
           "cluster_columns"]

#: the typed columns of a cluster, derived from its spec and status
CLUSTER_COLUMNS = ("type", "phase", "ready")


def cluster_columns(spec, status) -> dict:
    """A cluster's ``type`` (``spec.type``, physical when unset), ``phase`` (``status.phase``) and ``ready``
    (its ``Ready`` condition is ``True``), as its typed columns hold them."""
    spec = spec if isinstance(spec, dict) else {}
    status = status if isinstance(status, dict) else {}
    kind = spec.get("type")
    phase = status.get("phase")
    conditions = status.get("conditions")
    ready = isinstance(conditions, list) and any(
        isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return {"type": kind if isinstance(kind, str) and kind else "physical",
            "phase": phase[:32] if isinstance(phase, str) else "", "ready": ready}


class ScopeObject(ManifestModel):
    """A row that is itself a scope; subclasses say where they sit."""

    level = ""

    class Meta(ManifestModel.Meta):
        abstract = True

    def parent_scope(self):
        """The scope object directly above this one; None is the platform."""
        return None

    @classmethod
    def path_in(cls, parent, name: str) -> str:
        """The path of an object of this kind named ``name`` right under ``parent`` (a scope object, or None for
        the platform): the one rule for scope paths, asked by a row when it is saved and by its converter before
        a write."""
        return join(parent.scope_path if parent is not None else PLATFORM, cls.level, name)

    def compute_path(self) -> str:
        """This object's scope path."""
        return self.path_in(self.parent_scope(), self.name)

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
    #: ``spec.type``, ``status.phase`` and the Ready condition, kept by ``save`` (see ``cluster_columns``)
    type = models.CharField(max_length=16, default="physical", db_index=True)
    phase = models.CharField(max_length=32, blank=True, db_index=True)
    ready = models.BooleanField(default=False, db_index=True)
    #: when a delete was asked for (the custom resource's deletionTimestamp): a virtual cluster's delete is held
    #: until its vcluster release is uninstalled; None: not being deleted
    deletion_requested = models.DateTimeField(null=True, blank=True)

    derived_fields = CLUSTER_COLUMNS

    class Meta(ScopeObject.Meta):
        constraints = [models.UniqueConstraint(fields=["name"], name="cluster_name_unique")]

    def derived_columns(self) -> dict:
        """``cluster_columns`` of its spec and status."""
        return cluster_columns(self.spec, self.status)


class InClusterScope(ScopeObject):
    """A scope object that sits right under its cluster (a workspace or a node group)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="%(class)ss")

    class Meta(ScopeObject.Meta):
        abstract = True
        constraints = [models.UniqueConstraint(fields=["name"], name="%(class)s_name_unique")]

    def parent_scope(self):
        """Its cluster."""
        return self.cluster


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

    def parent_scope(self):
        """Its workspace, or its cluster when unassigned."""
        return self.workspace if self.workspace_id else self.cluster


class Node(ScopeObject):
    """A node of a member cluster, in a node group or unassigned."""

    level = "node"
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="nodes")
    nodegroup = models.ForeignKey(NodeGroup, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="nodes")

    class Meta(ScopeObject.Meta):
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="node_name_unique")]

    def parent_scope(self):
        """Its node group, or its cluster when unassigned."""
        return self.nodegroup if self.nodegroup_id else self.cluster


class JoinToken(models.Model):
    """A credential edge nodes join a node group with (``clusters.join_tokens``). Only a hash of its secret is
    kept; ``token_id`` is public (it is the Kubernetes bootstrap token's id, and the label a joining node carries)."""

    token_id = models.CharField(max_length=6, unique=True)
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="join_tokens")
    nodegroup = models.ForeignKey(NodeGroup, on_delete=models.CASCADE, related_name="join_tokens")
    #: the edge runtime the token was issued for (``kubeedge``, ``openyurt``)
    runtime = models.CharField(max_length=16)
    #: sha256 of the secret part (hex); the secret itself is shown once and never stored
    secret_hash = models.CharField(max_length=64)
    description = models.CharField(max_length=200, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(db_index=True)
    revoked = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ("-created",)

    def __str__(self):
        return self.token_id


class NodeJoin(models.Model):
    """A node that registered with a join token, and what became of it: ``Pending`` until approved (it is then
    labelled into its group) or ``Rejected`` (a token unknown, expired or revoked, or a person said no)."""

    PENDING, APPROVED, REJECTED = "Pending", "Approved", "Rejected"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="node_joins")
    node_name = models.CharField(max_length=253)
    nodegroup = models.ForeignKey(NodeGroup, on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="node_joins")
    token = models.ForeignKey(JoinToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="joins")
    #: the token id the node's label named (kept when the token is unknown)
    token_label = models.CharField(max_length=63)
    phase = models.CharField(max_length=16, default=PENDING, db_index=True)
    reason = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=500, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    #: when the platform first saw the node (its token is judged at this moment)
    created = models.DateTimeField(default=timezone.now)
    decided = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("cluster", "node_name")
        constraints = [models.UniqueConstraint(fields=["cluster", "node_name"], name="nodejoin_node_unique")]

    def __str__(self):
        return f"{self.cluster_id}:{self.node_name}"
