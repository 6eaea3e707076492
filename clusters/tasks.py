"""Celery tasks of clusters: the per-cluster sync of nodes and namespaces (``clusters.member_sync``, queued by
beat's ``edgeplatform.controllers.requeue`` every ``EDGE_CLUSTER_SYNC_PERIOD``) and the label write-back."""
from __future__ import annotations

from celery import shared_task

from clusters.member_sync import MEMBER_SYNC, push_label
from edgeplatform.controllers.tasks import task_for
from edgeplatform.kube.errors import KubeUnavailable

__all__ = ["drop_bootstrap_token", "expire_join_tokens", "push_member_label", "sync_members"]

#: ``sync_members.delay(cluster.pk)``
sync_members = task_for(MEMBER_SYNC, "clusters.sync_members")


@shared_task(name="clusters.push_member_label", acks_late=True, autoretry_for=(KubeUnavailable,),
             retry_backoff=True, retry_backoff_max=300, retry_jitter=True, max_retries=10)
def push_member_label(cluster: str, kind: str, name: str, label: str, value: str | None) -> str:
    """Write a platform assignment's label on the member (``clusters.member_sync.push_label``), retried while
    the member does not answer."""
    return push_label(cluster, kind, name, label, value)


@shared_task(name="clusters.drop_bootstrap_token", acks_late=True, autoretry_for=(KubeUnavailable,),
             retry_backoff=True, retry_backoff_max=300, retry_jitter=True, max_retries=10)
def drop_bootstrap_token(token: int) -> str:
    """Delete a revoked join token's bootstrap Secret from its member (``clusters.join_tokens``), retried while
    the member does not answer."""
    from clusters.join_tokens import drop_bootstrap_secret

    return drop_bootstrap_secret(token)


@shared_task(name="clusters.expire_join_tokens", acks_late=True)
def expire_join_tokens() -> int:
    """Delete the bootstrap Secrets of expired join tokens from their members (beat)."""
    from clusters.join_tokens import expire

    return expire()
