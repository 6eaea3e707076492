"""What a cluster's health check concludes: why a connection failed, in words a person understands, and when
its credentials expire.

``failure_of(error)`` turns what the gateway raised into a reason and a message (``DNSNameNotFound``,
``TLSHandshakeFailed``, ``ConnectionRefused``, ``Timeout``, ``Unauthorized``, ``Forbidden``, …);
``credential_expiry(certificate, token)`` reads the ``notAfter`` of a client certificate (PEM) and the ``exp`` of
a JWT-shaped token, whose payload is decoded without verifying it: the date is all the platform needs.

``check_connection(cluster, timeout)`` is the one connection check: the cluster controller's ``ensure_connected``
runs it on arrival and on a period, and the console's import form runs it before anything is saved (on a
Cluster row that is not stored yet). It reaches the API server through ``probe_client`` (no retry, one
``timeout`` for the whole check): ``GET /version``, one LIST of nodes (``limit`` 500, the rest counted from
``remainingItemCount``) and, when asked, the kube-system namespace's UID.
"""
from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from edgeplatform.kube import KubeError
from edgeplatform.kube.connections import probe_client
from edgeplatform.kube.errors import KubeconfigRefused, KubeNotConfigured

__all__ = ["Check", "Expiry", "Failure", "check_connection", "credential_expiry", "failure_of"]

#: the nodes read per page when counting them (the rest is counted from ``remainingItemCount``)
NODE_PAGE = 500
READY, UNREACHABLE, FAILED, PENDING = "Ready", "Unreachable", "Failed", "Pending"


@dataclass(frozen=True)
class Failure:
    """Why a check failed: ``reachable`` (the API server answered at all), a CamelCase ``reason``, a message."""

    reachable: bool
    reason: str
    message: str


#: markers in the transport's error text (urllib3, ssl, socket), most specific first
_NETWORK = (
    (("NameResolutionError", "Name or service not known", "nodename nor servname", "Temporary failure in name "
      "resolution", "No address associated"), "DNSNameNotFound",
     "the API server's DNS name was not found"),
    (("CERTIFICATE_VERIFY_FAILED", "certificate verify failed"), "TLSCertificateNotTrusted",
     "the API server's TLS certificate is not trusted (check certificate-authority-data)"),
    (("SSLError", "(TLS)", "WRONG_VERSION_NUMBER", "SSL"), "TLSHandshakeFailed",
     "the TLS handshake with the API server failed (is it an https endpoint?)"),
    (("Connection refused", "ConnectionRefused", "Errno 111"), "ConnectionRefused",
     "the API server refused the connection (nothing listens at that address and port)"),
    (("timed out", "Timeout", "TimeoutError"), "Timeout", "the API server did not answer in time"),
)


def failure_of(error: Exception, timeout: float) -> Failure:
    """The reason and message of a failed check from the gateway's error."""
    if isinstance(error, KubeError) and error.status:
        if error.status == 401:
            return Failure(True, "Unauthorized", "401 Unauthorized: the API server refused the credentials")
        if error.status == 403:
            return Failure(True, "Forbidden", f"403 Forbidden: the credentials may not read the cluster "
                                              f"({error.message[:200]})")
        return Failure(True, "ApiError", f"the API server answered {error.status} {error.reason}: "
                                         f"{error.message[:200]}")
    text = str(error)
    for markers, reason, message in _NETWORK:
        if any(marker in text for marker in markers):
            if reason == "Timeout":
                message = f"{message} ({timeout:g} s)"
            return Failure(False, reason, message)
    return Failure(False, "Unreachable", f"the API server could not be reached: {text[:300]}")


@dataclass(frozen=True)
class Expiry:
    """The earliest expiry of a cluster's credentials: ``what`` expires (``client certificate``, ``token``)
    and ``when`` (UTC)."""

    what: str
    when: datetime


def _certificate_expiry(pem: str | None) -> datetime | None:
    if not pem:
        return None
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None  # not a certificate the check can read: nothing to report
    return certificate.not_valid_after_utc


def _token_expiry(token: str | None) -> datetime | None:
    parts = (token or "").split(".")
    if len(parts) != 3:
        return None  # not a JWT: a static token has no expiry to read
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = payload.get("exp") if isinstance(payload, dict) else None
        return datetime.fromtimestamp(float(exp), UTC) if isinstance(exp, int | float) else None
    except (binascii.Error, ValueError, OverflowError, OSError):
        return None


def credential_expiry(certificate: str | None, token: str | None) -> Expiry | None:
    """The earliest expiry of a client certificate (PEM) and a token; None when neither carries one."""
    found = [Expiry(what, when) for what, when in (("client certificate", _certificate_expiry(certificate)),
                                                   ("token", _token_expiry(token))) if when is not None]
    return min(found, key=lambda item: item.when) if found else None


@dataclass(frozen=True)
class Check:
    """What one connection check found. ``ok``: the API server answered with the version and the nodes.
    Otherwise ``reason`` and ``message`` say why, ``reachable`` whether the API server answered at all (None:
    nothing was sent, the connection itself is unusable) and ``permanent`` whether only a new connection helps.
    ``phase`` is the cluster phase it means (Ready, Unreachable, Failed, Pending)."""

    ok: bool
    phase: str
    reason: str
    message: str
    reachable: bool | None = None
    permanent: bool = False
    kubernetes_version: str = ""
    node_count: int = 0
    uid: str | None = None


def check_connection(cluster, timeout: float, *, want_uid: bool = True,
                     preflight: Callable[[], None] | None = None) -> Check:
    """Reach ``cluster``'s API server once, within ``timeout`` seconds in all; never raises for what the
    cluster answers (``preflight``, run once the connection is known usable and before the first request, may
    raise: the controller checks the credentials' expiry there)."""
    try:
        client = probe_client(cluster, timeout)
    except KubeconfigRefused as error:
        return Check(False, FAILED, "KubeconfigRefused", str(error), permanent=True)
    except KubeNotConfigured as error:
        if "unusable" in str(error) or "neither" in str(error):
            return Check(False, PENDING, "InvalidConnection", str(error), permanent=True)
        return Check(False, PENDING, "NoConnection",
                     f"{error}: add spec.connection (a kubeconfig, or an endpoint and a token)", permanent=True)
    if preflight is not None:
        preflight()
    started = time.monotonic()

    def left() -> tuple[float, float]:
        rest = max(0.1, timeout - (time.monotonic() - started))
        return rest, rest

    try:
        version = client.request("GET", "/version") or {}
        nodes = client.request("GET", "/api/v1/nodes", {"limit": NODE_PAGE}, timeout=left()) or {}
        uid = (cluster.status or {}).get("uid") if cluster.pk else None
        if want_uid and not uid:  # the member's identity, as the reference reports it: kube-system's UID
            system = client.request("GET", "/api/v1/namespaces/kube-system", timeout=left()) or {}
            uid = (system.get("metadata") or {}).get("uid")
    except Exception as error:  # the gateway's errors, and whatever the transport let through
        failure = failure_of(error, timeout)
        return Check(False, FAILED if failure.reachable else UNREACHABLE, failure.reason, failure.message,
                     reachable=failure.reachable)
    count = len(nodes.get("items") or []) + int((nodes.get("metadata") or {}).get("remainingItemCount") or 0)
    git_version = str(version.get("gitVersion") or "")
    return Check(True, READY, "Connected", f"the API server answered ({git_version})", reachable=True,
                 kubernetes_version=git_version, node_count=count, uid=uid)


#: the connection fields kept encrypted apart from the spec (``clusters.manifests`` splits them off)
_SECRET_FIELDS = ("kubeconfig", "token")


def check_new_connection(name: str, connection: dict, timeout: float) -> Check:
    """``check_connection`` of a connection that is not stored yet: ``connection`` is ``spec.connection`` as a
    user writes it (kubeconfig and token in clear); nothing is saved. What the console's import form runs
    before it saves a cluster."""
    from edgeplatform import crypto

    from .models import Cluster

    fields = dict(connection or {})
    secrets = {key: fields.pop(key) for key in _SECRET_FIELDS if fields.get(key)}
    row = Cluster(name=name or "new-cluster", spec={"type": "physical", "connection": fields}, status={},
                  connection_secret=crypto.encrypt_json(secrets) if secrets else None)
    return check_connection(row, timeout, want_uid=False)
