"""Celery tasks of the CRD sync (platform → cluster): one per saved object, and the resync on the controller base."""
from celery import shared_task

from edgeplatform.controllers.base import Controller, register
from edgeplatform.controllers.tasks import task_for

from .errors import KubeUnavailable

__all__ = ["CRD_RESYNC", "CRDResyncController", "resync", "resync_kind_task", "sync_object"]


@shared_task(name="edgeplatform.kube.tasks.sync_object", acks_late=True, autoretry_for=(KubeUnavailable,),
             retry_backoff=True, retry_backoff_max=300, retry_jitter=True, max_retries=10)
def sync_object(kind: str, name: str, group: str | None = None, namespace: str | None = None) -> str:
    """Make the custom resource of one object match its row (apply it, or delete it when the row is gone); a
    namespaced kind's object is named by ``namespace`` too.

    Receives the kind and name, re-reads the row, and is safe to run twice or late. Runs as the audit actor
    ``system:edgeplatform.kube.tasks.sync_object`` (set for every task by the audit app).
    """
    from .sync import sync_object as sync

    return sync(kind, name, group, namespace=namespace)


@register
class CRDResyncController(Controller):
    """Every custom resource of one kind brought up to its row (``edgeplatform.kube.sync.resync``).

    The object is a kind (key ``<group>/<Kind>``); with sync off there is none. Beat runs each kind again
    ``EDGE_CONTROLLER_RESYNC_PERIOD`` seconds after its last success; a host cluster that does not answer is
    retried with backoff. Its state stays in the controllers' table (a kind has no status).
    """

    name = "crd-resync"
    steps = ("ensure_custom_resources",)
    queue = "sync"
    writes_status = False

    period_setting = "EDGE_CONTROLLER_RESYNC_PERIOD"

    def load(self, key: str):
        """The converter of the kind."""
        from .crds import crd_kinds
        from .sync import kind_key

        return next((converter for converter in crd_kinds() if kind_key(converter) == key), None)

    def keys(self):
        """Every kind with a CRD, while sync is on."""
        from .crds import crd_kinds
        from .sync import enabled, kind_key

        return [(kind_key(converter), 0) for converter in crd_kinds()] if enabled() else []

    def generation_of(self, obj) -> int:
        """A kind has no spec: only the period brings it back."""
        return 0

    def ensure_custom_resources(self, converter, run) -> None:
        """List the kind's custom resources and write those that lag their rows."""
        from .connections import host_client
        from .sync import resync_kind

        run.result = resync_kind(run.options.get("client") or host_client(), converter)


CRD_RESYNC = CRDResyncController
#: one kind: ``resync_kind_task.delay("<group>/<Kind>")``
resync_kind_task = task_for(CRD_RESYNC)


@shared_task(name="edgeplatform.kube.tasks.resync", acks_late=True)
def resync() -> dict:
    """Bring every custom resource up to its row now (each kind one ``crd-resync`` reconcile); the counts."""
    from .sync import resync as run

    return run()
