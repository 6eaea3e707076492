"""Secrets at rest: Fernet (AES-128-CBC + HMAC) with a key from the environment.

``EDGE_ENCRYPTION_KEY`` (a Fernet key; several, comma-separated, rotate: the first
encrypts, all decrypt). Without it a key is derived from ``SECRET_KEY``.
"""
import base64
import json

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet() -> MultiFernet:
    import os

    keys = [k.strip() for k in os.environ.get("EDGE_ENCRYPTION_KEY", "").split(",") if k.strip()]
    if not keys:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"edge-platform", info=b"secrets-at-rest")
        keys = [base64.urlsafe_b64encode(derived.derive(settings.SECRET_KEY.encode())).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_json(value) -> bytes:
    """Encrypt a JSON-serializable value."""
    return _fernet().encrypt(json.dumps(value).encode())


def decrypt_json(token: bytes):
    """Decrypt what ``encrypt_json`` produced."""
    return json.loads(_fernet().decrypt(bytes(token)))
