"""Keys from the environment: Fernet for secrets at rest, an HMAC key for the audit chain.

``EDGE_ENCRYPTION_KEY`` (a Fernet key; several, comma-separated, rotate: the first
encrypts, all decrypt). Without it a key is derived from ``SECRET_KEY``.
``EDGE_AUDIT_KEY`` keys the audit log's hash chain; without it a key is derived from ``SECRET_KEY``.
"""
import base64
import functools
import json
import os

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _derive(info: bytes) -> bytes:
    """32 bytes derived from ``SECRET_KEY`` for one purpose."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"edge-platform", info=info).derive(
        settings.SECRET_KEY.encode())


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in os.environ.get("EDGE_ENCRYPTION_KEY", "").split(",") if k.strip()]
    if not keys:
        keys = [base64.urlsafe_b64encode(_derive(b"secrets-at-rest")).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_json(value) -> bytes:
    """Encrypt a JSON-serializable value."""
    return _fernet().encrypt(json.dumps(value).encode())


def decrypt_json(token: bytes):
    """Decrypt what ``encrypt_json`` produced."""
    return json.loads(_fernet().decrypt(bytes(token)))


@functools.cache
def audit_key() -> bytes:
    """The key of the audit log's HMAC chain: without it, rows cannot be re-chained after tampering."""
    configured = os.environ.get("EDGE_AUDIT_KEY", "").strip()
    return configured.encode() if configured else _derive(b"audit-chain")
