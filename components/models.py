"""The Component model: one Helm-installed part of one member cluster (DESIGN §8).

A component lives at its cluster's scope (``scope_path`` is the cluster's path), so the engine decides who may
see or change it with grants at the platform or the cluster. Its custom resource on the host cluster sits in a
namespace that names its cluster (``namespace``, see ``components.manifests``), so the same component of two
clusters never collides and ``kubectl get comp -A`` lists the fleet's.

``phase`` and ``enabled`` are typed, indexed columns kept from the status and spec on every save (counts by
phase, "failing components" on the dashboard, the no-drift sweep), never read from the manifest.
``deletion_requested`` is the Kubernetes ``deletionTimestamp``: a delete asks the controller to uninstall the
release first; the row goes once it has.

``ComponentRevision`` is the Helm revision history of a component as the controller made it (install, upgrade,
the rollback of a failed upgrade): chart version and digest, values and spec hash per revision, so a rollback can
write an earlier revision back into the spec (``components.services.rollback``).
"""
from __future__ import annotations

from django.db import models

from clusters.models import Cluster
from edgeplatform.resources.models import ManifestModel

__all__ = ["COMPONENT_COLUMNS", "Component", "ComponentRevision", "component_columns"]

#: the typed columns of a component, derived from its spec and status
COMPONENT_COLUMNS = ("phase", "enabled")


def component_columns(spec, status) -> dict:
    """A component's ``phase`` (``status.phase``) and ``enabled`` (``spec.enabled``, true when unset)."""
    spec = spec if isinstance(spec, dict) else {}
    status = status if isinstance(status, dict) else {}
    phase = status.get("phase")
    return {"phase": phase[:32] if isinstance(phase, str) else "", "enabled": spec.get("enabled", True) is not False}


class Component(ManifestModel):
    """A Helm chart installed (or not, ``enabled: false``) on one cluster, with values and dependencies."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="components")
    #: the host namespace of its custom resource (the namespace that names its cluster)
    namespace = models.CharField(max_length=63, db_index=True)
    phase = models.CharField(max_length=32, blank=True, db_index=True)
    enabled = models.BooleanField(default=True, db_index=True)
    #: when a delete was asked for (the custom resource's deletionTimestamp); None: not being deleted
    deletion_requested = models.DateTimeField(null=True, blank=True)
    derived_fields = COMPONENT_COLUMNS

    class Meta(ManifestModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], name="component_name_unique"),
            models.UniqueConstraint(fields=["namespace", "name"], name="component_namespace_name_unique"),
        ]

    def derived_columns(self) -> dict:
        """``component_columns`` of its spec and status."""
        return component_columns(self.spec, self.status)


class ComponentRevision(models.Model):
    """One Helm revision of a component's release, recorded by the controller after the operation that made it."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="revisions")
    #: Helm's revision number (1, 2, …; a reinstall after an uninstall starts again at 1 and replaces the rows)
    revision = models.PositiveIntegerField()
    release_name = models.CharField(max_length=53)
    chart_name = models.CharField(max_length=250)
    chart_version = models.CharField(max_length=128)
    app_version = models.CharField(max_length=128, blank=True)
    #: sha256 of the chart archive ("" when not known: a revision Helm made by rolling back)
    digest = models.CharField(max_length=64, blank=True)
    values = models.JSONField(default=dict)
    spec_hash = models.CharField(max_length=64, blank=True)
    #: Helm's status of the revision: deployed, superseded, failed, …
    status = models.CharField(max_length=32)
    description = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("component", "-revision")
        constraints = [models.UniqueConstraint(fields=["component", "revision"], name="component_revision_unique")]

    def __str__(self):
        return f"{self.component_id}:{self.release_name}.v{self.revision}"
