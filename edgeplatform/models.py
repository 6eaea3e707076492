"""The project app's own tables: what the CRD watcher must remember across restarts, and the controllers'
leases and reconcile state (``edgeplatform.controllers.models``)."""
from django.db import models

from edgeplatform.controllers.models import ControllerState, Lease

__all__ = ["ControllerState", "Lease", "WatchedKind"]


class WatchedKind(models.Model):
    """The custom resources of one kind the watcher (``manage.py kubewatch``) last saw on the host cluster.

    Kept so that a restarted watcher can tell a resource deleted while it was away (its row is deleted too)
    from a row whose resource was never written (sync was off, or a task was lost: the resource is applied).
    ``host`` is the host cluster's identity (the uid of its ``kube-system`` namespace): remembered names of
    another cluster say nothing about this one, so they are ignored.
    """

    group = models.CharField(max_length=253)
    kind = models.CharField(max_length=63)
    host = models.CharField(max_length=64)
    #: name → the platform uid annotation it carried ("" when none)
    known = models.JSONField(default=dict)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "kind"], name="watchedkind_unique_kind")]

    def __str__(self) -> str:
        return f"{self.kind}.{self.group}: {len(self.known)} known"
