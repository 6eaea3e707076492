"""Beat tasks of the iam app."""
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone


@shared_task(name="iam.tasks.prune_grant_changes", acks_late=True)
def prune_grant_changes() -> int:
    """Drop grant change log rows older than every cache that could still need them."""
    from iam.models import GrantChange

    horizon = timezone.now() - timedelta(seconds=settings.EDGE_AUTHZ_CACHE_TTL * 4 + 3600)
    deleted, _ = GrantChange.objects.filter(created__lt=horizon).delete()
    return deleted


@shared_task(name="iam.tasks.purge_expired_tokens", acks_late=True)
def purge_expired_tokens() -> int:
    """Delete tokens that expired or were revoked more than a day ago."""
    from django.db.models import Q

    from iam.models import AccessToken

    day_ago = timezone.now() - timedelta(days=1)
    deleted, _ = AccessToken.objects.filter(Q(expires__lt=day_ago) | Q(revoked__lt=day_ago)).delete()
    return deleted


# native RBAC translation tasks live with their package; imported here so Celery's autodiscovery finds them
from iam.native_rbac.tasks import reconcile_binding_task, reconcile_cluster_task  # noqa: E402,F401
