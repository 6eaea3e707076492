"""Native RBAC: the platform's roles and bindings as Kubernetes RBAC objects on each member cluster.

``reconcile_cluster(cluster)`` is the level-based entry point (desired state from the database, actual state
from the cluster, only the difference written); ``reconcile_binding(cluster, name)`` is the cheap one for a
single binding. ``translation`` says how roles, scopes and subjects map onto RBAC objects.
"""
from iam.native_rbac.reconcile import Result, reconcile_binding, reconcile_cluster

__all__ = ["Result", "reconcile_binding", "reconcile_cluster"]
