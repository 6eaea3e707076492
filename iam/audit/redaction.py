"""Secrets never reach the audit log: one function masks them in any manifest-shaped value."""
from __future__ import annotations

import json
import re

REDACTED = "<redacted>"

#: Field names whose values are secrets, wherever they appear (spec, status, Helm values, annotations).
#: ``key`` alone is not a secret (label selector expressions and taints have one), ``*Key`` with a
#: qualifier is (``privateKey``, ``clientKeyData``, ``secretKey``, ``apiKey``, ``accessKey``).
SECRET_NAME = re.compile(
    r"(passw(or)?d|passphrase|secret|token|credential|kubeconfig|certificatedata|"
    r"(private|client|secret|api|access|signing|encryption|ssh|tls)[-_]?key)",
    re.IGNORECASE,
)
#: Annotation keys whose (string) value is itself a JSON manifest that may carry secrets.
EMBEDDED_MANIFEST = re.compile(r"last-applied-configuration$")


def is_secret(name: str) -> bool:
    """Does a field called ``name`` hold a secret?"""
    return bool(SECRET_NAME.search(name))


def redact(value):
    """A copy of ``value`` with every secret field's value replaced by ``<redacted>``.

    Empty values stay as they are (an empty password field says nothing), and JSON manifests embedded in
    annotations such as ``kubectl.kubernetes.io/last-applied-configuration`` are redacted too.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = str(key)
            if is_secret(name.rsplit("/", 1)[-1]) and item not in (None, "", {}, []):
                out[key] = REDACTED
            elif isinstance(item, str) and EMBEDDED_MANIFEST.search(name):
                out[key] = _redact_embedded(item)
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _redact_embedded(text: str) -> str:
    try:
        parsed = json.loads(text)
    except ValueError:
        return REDACTED  # not JSON we can read: it may still hold a secret
    return json.dumps(redact(parsed), sort_keys=True, separators=(",", ":"))
