"""Factories of the scope kinds: Cluster, Workspace, NodeGroup, and the native Namespace and Node."""
from __future__ import annotations

import factory

from clusters.models import Cluster, Namespace, Node, NodeGroup, Workspace
from edgeplatform.resources.names import CLUSTER_LABEL, NODEGROUP_LABEL, WORKSPACE_LABEL
from tests.factories.base import Existing, ManifestFactory, name_of

__all__ = ["ClusterFactory", "NamespaceFactory", "NodeFactory", "NodeGroupFactory", "WorkspaceFactory"]


class ClusterFactory(ManifestFactory):
    """A physical cluster (no connection: the platform does not reach it)."""

    class Meta:
        model = Cluster

    name = factory.Sequence(lambda n: f"cluster-{n}")
    spec = factory.Dict({"type": "physical"})


class InClusterFactory(ManifestFactory):
    """A kind that lives in one cluster, named by the ``scope.theriseunion.io/cluster`` label."""

    class Meta:
        abstract = True

    cluster = Existing(ClusterFactory)

    @classmethod
    def labels_of(cls, fields: dict) -> dict:
        """The given labels and the cluster label."""
        return {**super().labels_of(fields), CLUSTER_LABEL: name_of(fields["cluster"])}


class WorkspaceFactory(InClusterFactory):
    """A workspace (application view) of a cluster."""

    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"workspace-{n}")


class NodeGroupFactory(InClusterFactory):
    """A node group (infrastructure view) of a cluster; ``spec.selector`` makes it take matching nodes."""

    class Meta:
        model = NodeGroup

    name = factory.Sequence(lambda n: f"nodegroup-{n}")


def _cluster_of_parent(parent_field: str):
    """The parent's cluster when a parent row is given, else a new cluster."""
    def cluster(obj):
        parent = getattr(obj, parent_field)
        return parent.cluster if parent is not None and not isinstance(parent, str) else ClusterFactory()
    return factory.LazyAttribute(cluster)


class NativeFactory(ManifestFactory):
    """A native Kubernetes kind of a member cluster (served under ``clusters/<cluster>/``), in a parent scope when
    one is given (a parent given by name needs its cluster given too)."""

    class Meta:
        abstract = True

    parent_field = ""
    parent_label = ""

    @classmethod
    def labels_of(cls, fields: dict) -> dict:
        """The given labels, the label naming the parent, and the cluster label the API shows on native kinds
        (informational: the cluster is the URL's)."""
        labels = {**super().labels_of(fields), CLUSTER_LABEL: name_of(fields["cluster"])}
        if fields.get(cls.parent_field) is not None:
            labels[cls.parent_label] = name_of(fields[cls.parent_field])
        return labels

    @classmethod
    def context_of(cls, manifest: dict) -> dict:
        """The cluster of the URL the object is written under."""
        return {"cluster": manifest["metadata"]["labels"][CLUSTER_LABEL]}


class NamespaceFactory(NativeFactory):
    """A namespace of a member cluster, in ``workspace`` when given."""

    class Meta:
        model = Namespace

    parent_field, parent_label = "workspace", WORKSPACE_LABEL
    name = factory.Sequence(lambda n: f"namespace-{n}")
    workspace = None
    cluster = _cluster_of_parent("workspace")


class NodeFactory(NativeFactory):
    """A node of a member cluster, in ``nodegroup`` when given (or in the first group whose selector matches its
    labels)."""

    class Meta:
        model = Node

    parent_field, parent_label = "nodegroup", NODEGROUP_LABEL
    name = factory.Sequence(lambda n: f"node-{n}")
    nodegroup = None
    cluster = _cluster_of_parent("nodegroup")
