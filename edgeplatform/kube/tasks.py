"""Celery tasks of the CRD sync (platform → cluster)."""
from celery import shared_task

from .errors import KubeUnavailable

__all__ = ["resync", "sync_object"]


@shared_task(name="edgeplatform.kube.tasks.sync_object", acks_late=True, autoretry_for=(KubeUnavailable,),
             retry_backoff=True, retry_backoff_max=300, retry_jitter=True, max_retries=10)
def sync_object(kind: str, name: str, group: str | None = None) -> str:
    """Make the custom resource of one object match its row (apply it, or delete it when the row is gone).

    Receives the kind and name, re-reads the row, and is safe to run twice or late. Runs as the audit actor
    ``system:edgeplatform.kube.tasks.sync_object`` (set for every task by the audit app).
    """
    from .sync import sync_object as sync

    return sync(kind, name, group)


@shared_task(name="edgeplatform.kube.tasks.resync", acks_late=True, autoretry_for=(KubeUnavailable,),
             retry_backoff=True, retry_backoff_max=300, retry_jitter=True, max_retries=3)
def resync() -> dict:
    """Beat: bring every custom resource up to its row (status no save announces, syncs lost on the way)."""
    from .sync import resync as run

    return run()
