"""The Kubernetes gateway: the only code that builds Kubernetes clients.

``host_client()`` reaches the host cluster (custom resources live there); ``member_client(cluster)`` reaches a
member cluster through its stored, encrypted connection. The operations (``apply``, ``get``, ``list_objects``,
``ensure_absent``, ``ensure_namespace``, ``remove_finalizer``, ``watch_events``) are idempotent, time out, retry
server trouble with backoff and raise ``KubeError`` with the API server's status, reason, message and causes.
"""
from .client import KubeClient, ResourceInfo
from .connections import forget_clients, host_client, host_configured, member_client
from .errors import KubeError, KubeNotConfigured, KubeUnavailable
from .operations import (
    FIELD_MANAGER,
    ObjectList,
    apply,
    ensure_absent,
    ensure_namespace,
    get,
    list_objects,
    remove_finalizer,
    watch_events,
)
from .retry import RetryPolicy

__all__ = ["FIELD_MANAGER", "KubeClient", "KubeError", "KubeNotConfigured", "KubeUnavailable", "ObjectList",
           "ResourceInfo", "RetryPolicy", "apply", "ensure_absent", "ensure_namespace", "forget_clients", "get",
           "host_client", "host_configured", "list_objects", "member_client", "remove_finalizer", "watch_events"]
