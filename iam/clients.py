"""Registered API clients: programs that get tokens with the OAuth client-credentials grant.

A client acts as a service-account user: bindings naming that user decide what the client may do, and
disabling the user stops the client (its tokens are revoked with the user's).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import transaction
from django.utils import timezone

from edgeplatform.resources import services
from edgeplatform.resources.converters import converter_for
from iam import audit
from iam.models import APIClient, User

__all__ = ["SERVICE_ACCOUNT_LABEL", "authenticate_client", "register_client", "remove_client", "rotate_secret"]

SERVICE_ACCOUNT_LABEL = "iam.theriseunion.io/service-account"
SECRET_PREFIX = "edgc_"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def register_client(client_id: str, user: User | None = None, description: str = "") -> tuple[APIClient, str]:
    """Register ``client_id``; returns the client and its secret (shown once).

    Without ``user``, a service-account user of the same name is created (no password, so it can only get
    in through this client); bind roles to that user to let the client do things.
    """
    if user is None:  # through the write path: the name is validated and the new user audited
        user = services.save_manifest(converter_for(User), {
            "apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "User",
            "metadata": {"name": client_id, "labels": {SERVICE_ACCOUNT_LABEL: "true"}}, "spec": {}})
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    client = APIClient.objects.create(client_id=client_id, secret_hash=_digest(secret), user=user,
                                      description=description)
    audit.record("create", resource="apiclients", group="iam.theriseunion.io", kind="APIClient",
                 name=client_id, scope_path="platform", message=f"acts as user {user.get_username()}")
    return client, secret


def rotate_secret(client: APIClient) -> str:
    """Give ``client`` a new secret (returned once); the old one stops working at once."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    APIClient.objects.filter(pk=client.pk).update(secret_hash=_digest(secret))
    audit.record("update", resource="apiclients", group="iam.theriseunion.io", kind="APIClient",
                 name=client.client_id, scope_path="platform", message="secret rotated")
    return secret


@transaction.atomic
def remove_client(client: APIClient) -> None:
    """Delete ``client`` and revoke the tokens it was given (its service-account user stays)."""
    from iam import tokens

    tokens.revoke_client_tokens(client, f"API client {client.client_id} deleted")
    audit.record("delete", resource="apiclients", group="iam.theriseunion.io", kind="APIClient",
                 name=client.client_id, scope_path="platform")
    client.delete()


def authenticate_client(client_id: str, secret: str) -> APIClient | None:
    """The client whose id and secret these are, or None (compared in constant time)."""
    client = APIClient.objects.select_related("user").filter(client_id=client_id or "").first()
    if client is None or not hmac.compare_digest(client.secret_hash, _digest(secret or "")):
        return None
    APIClient.objects.filter(pk=client.pk).update(last_used=timezone.now())
    return client
