"""Secrets never reach the audit log: one function masks them in any manifest-shaped value.

A secret that a write changed is masked as ``<redacted: changed>`` in the after manifest (and ``<redacted>``
in the before), so the diff shows that a password or a credential was rotated without showing either value.
Secrets a kind keeps out of its manifest (a user's password hash, a cluster's encrypted connection
credentials) are listed in :data:`STORED_SECRETS`; the recorder puts them back at their manifest paths before
masking, so they are compared and masked by the same rule as every other secret field.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import re

log = logging.getLogger(__name__)

REDACTED = "<redacted>"
CHANGED = "<redacted: changed>"
_NOTHING = object()  # "no earlier manifest to compare with" (a create), as opposed to a missing field

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


def redact(value, previous=_NOTHING):
    """A copy of ``value`` with every secret field's value replaced by ``<redacted>``.

    With ``previous`` (the same object's manifest before the write, unredacted), a secret whose value differs
    from ``previous``'s at the same place — or that ``previous`` lacks — reads ``<redacted: changed>``.
    Empty values stay as they are (an empty password field says nothing), and JSON manifests embedded in
    annotations such as ``kubectl.kubernetes.io/last-applied-configuration`` are redacted too.
    """
    return _redact(value, previous, previous is not _NOTHING)


def _redact(value, previous, comparing: bool):
    if isinstance(value, dict):
        earlier = previous if isinstance(previous, dict) else {}
        out = {}
        for key, item in value.items():
            name, other = str(key), earlier.get(key, _NOTHING)
            if is_secret(name.rsplit("/", 1)[-1]) and item not in (None, "", {}, []):
                out[key] = CHANGED if comparing and other != item else REDACTED
            elif isinstance(item, str) and EMBEDDED_MANIFEST.search(name):
                out[key] = _redact_embedded(item, other, comparing)
            else:
                out[key] = _redact(item, other, comparing)
        return out
    if isinstance(value, list):
        earlier = previous if isinstance(previous, list) else []
        return [_redact(item, earlier[i] if i < len(earlier) else _NOTHING, comparing)
                for i, item in enumerate(value)]
    return value


def _redact_embedded(text: str, previous, comparing: bool) -> str:
    try:
        parsed = json.loads(text)
    except ValueError:
        return REDACTED  # not JSON we can read: it may still hold a secret
    try:
        earlier = json.loads(previous) if isinstance(previous, str) else _NOTHING
    except ValueError:
        earlier = _NOTHING
    return json.dumps(_redact(parsed, earlier, comparing), sort_keys=True, separators=(",", ":"))


# --- secrets kept out of manifests ---------------------------------------------------------------------------

def _user_secrets(columns: dict) -> dict:
    """A usable password hash, shown at ``spec.password`` (where the password is written)."""
    password = columns.get("password") or ""
    return {("spec", "password"): password} if password and not password.startswith("!") else {}


def _cluster_secrets(columns: dict) -> dict:
    """The decrypted connection credentials, at ``spec.connection.<field>`` (where they are written)."""
    from edgeplatform import crypto

    blob = bytes(columns.get("connection_secret") or b"")
    if not blob:
        return {}
    try:
        fields = crypto.decrypt_json(blob)
    except Exception:  # a key rotated away: the values are unknown, but a different blob is still a change
        log.warning("audit: a cluster's stored credentials cannot be decrypted; comparing them encrypted")
        return {("spec", "connection", "credentials"): hashlib.sha256(blob).hexdigest()}
    return {("spec", "connection", key): value for key, value in (fields or {}).items() if value}


#: model label → (columns holding secrets its manifest leaves out, reader: column values → {manifest path: value})
STORED_SECRETS = {
    "iam.User": (("password",), _user_secrets),
    "clusters.Cluster": (("connection_secret",), _cluster_secrets),
}


def secret_columns(model) -> tuple[str, ...]:
    """The columns of ``model`` that hold secrets its manifest leaves out (empty for most kinds)."""
    return STORED_SECRETS.get(model._meta.label, ((), None))[0]


def stored_secrets(model, columns: dict | None) -> dict:
    """{manifest path: value} of the secrets held in ``columns`` (column name → stored value) of a ``model`` row."""
    entry = STORED_SECRETS.get(model._meta.label)
    return entry[1](columns) if entry is not None and columns else {}


def with_secrets(manifest: dict | None, secrets: dict) -> dict | None:
    """A copy of ``manifest`` carrying ``secrets`` ({path: value}) at their paths, for :func:`redact` to mask."""
    if manifest is None or not secrets:
        return manifest
    out = copy.deepcopy(manifest)
    for path, value in secrets.items():
        node = out
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[path[-1]] = value
    return out
