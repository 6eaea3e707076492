"""Where clients come from: the host cluster (in-cluster or ``EDGE_KUBECONFIG``) and member clusters (their
stored, encrypted connection). This module is the only place that decrypts a Cluster's connection secrets.

Clients are cached per cluster and rebuilt when the connection changes (a fingerprint of the stored fields)
or when the process has forked (pooled sockets must not be shared across processes).

A stored kubeconfig may only carry credentials as data (a token, ``*-data``, a username and password): entries
that would run a program on the platform host (``exec``, ``auth-provider``) or read one of its files
(``tokenFile``, ``client-certificate``, ``client-key``, ``certificate-authority``) are refused, here and when
the Cluster is written (``kubeconfig_problems``), because whoever may write a Cluster must not thereby run
commands on the platform.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading

import yaml
from django.conf import settings
from kubernetes import config as kube_config
from kubernetes.client import Configuration
from kubernetes.config.config_exception import ConfigException

from edgeplatform import crypto
from edgeplatform.resources import documents
from edgeplatform.resources.names import CLUSTER_ROLE_LABEL

from .client import KubeClient
from .errors import KubeconfigRefused, KubeNotConfigured
from .retry import RetryPolicy

__all__ = ["KUBECONFIG_HINT", "forget_clients", "host_client", "host_configured", "kubeconfig_problems",
           "member_client", "member_credentials", "member_kubeconfig", "probe_client"]

HOST = "host"

_cache: dict[str, tuple[str, KubeClient]] = {}
_cache_pid = os.getpid()
_lock = threading.Lock()


def _policy() -> RetryPolicy:
    return RetryPolicy(retries=settings.EDGE_KUBE_RETRIES, base=settings.EDGE_KUBE_BACKOFF,
                       cap=settings.EDGE_KUBE_BACKOFF_MAX, deadline=settings.EDGE_KUBE_DEADLINE)


def _timeout() -> tuple[float, float]:
    return settings.EDGE_KUBE_CONNECT_TIMEOUT, settings.EDGE_KUBE_READ_TIMEOUT


def _in_cluster() -> bool:
    return settings.EDGE_KUBE_IN_CLUSTER and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def host_configured() -> bool:
    """Whether a host cluster is configured (otherwise CRD sync is off and the database is the only store)."""
    return bool(settings.EDGE_KUBECONFIG) or _in_cluster()


def _cached(key: str, fingerprint: str, build) -> KubeClient:
    global _cache_pid
    with _lock:
        if _cache_pid != os.getpid():  # forked: the parent's pooled connections are not ours
            _cache.clear()
            _cache_pid = os.getpid()
        entry = _cache.get(key)
        if entry and entry[0] == fingerprint:
            return entry[1]
    client = build()
    with _lock:
        old = _cache.get(key)
        _cache[key] = (fingerprint, client)
    if old and old[1] is not client:
        old[1].close()
    return client


def forget_clients() -> None:
    """Close and drop every cached client (tests, settings changes)."""
    with _lock:
        entries = list(_cache.values())
        _cache.clear()
    for _, client in entries:
        client.close()


def host_client() -> KubeClient:
    """The client of the host cluster, where the platform's custom resources live."""
    if not host_configured():
        raise KubeNotConfigured("no host cluster: set EDGE_KUBECONFIG or run in a pod")
    path, context = settings.EDGE_KUBECONFIG, settings.EDGE_KUBE_CONTEXT or None
    fingerprint = _digest({"kubeconfig": path, "context": context, "mtime": _mtime(path), "policy": _settings()})

    return _cached(HOST, fingerprint, lambda: KubeClient(HOST, _host_configuration(), _policy(), _timeout()))


def _host_configuration() -> Configuration:
    path, context = settings.EDGE_KUBECONFIG, settings.EDGE_KUBE_CONTEXT or None
    configuration = Configuration()
    try:
        if path:
            kube_config.load_kube_config(config_file=path, context=context, client_configuration=configuration,
                                         persist_config=False)
        else:
            kube_config.load_incluster_config(client_configuration=configuration)
    except (ConfigException, OSError, yaml.YAMLError) as error:
        raise KubeNotConfigured(f"host cluster configuration is unusable: {error}")
    return configuration


def member_client(cluster) -> KubeClient:
    """The client of a member ``Cluster``, from its stored connection (the host client for the host cluster)."""
    connection = dict(((cluster.spec or {}).get("connection")) or {})
    secret = bytes(cluster.connection_secret) if cluster.connection_secret else b""
    if not secret and not connection.get("kubernetesAPIEndpoint"):
        if (cluster.labels or {}).get(CLUSTER_ROLE_LABEL) == "host":
            return host_client()
        raise KubeNotConfigured(f'cluster "{cluster.name}" has no stored connection')
    fingerprint = _digest({"connection": connection, "secret": hashlib.sha256(secret).hexdigest(),
                           "policy": _settings()})

    def build() -> KubeClient:
        secrets = crypto.decrypt_json(secret) if secret else {}
        configuration = _configuration(cluster.name, connection, secrets)
        return KubeClient(cluster.name, configuration, _policy(), _timeout())

    return _cached(f"cluster:{cluster.name}", fingerprint, build)


def probe_client(cluster, timeout: float) -> KubeClient:
    """A client of a member ``Cluster`` (the host's own configuration for the host cluster) that never retries
    and gives up after ``timeout`` seconds (to connect, and to read): what a health check uses, so that a
    cluster that does not answer costs one timeout and no backoff sleeps."""
    connection = dict(((cluster.spec or {}).get("connection")) or {})
    secret = bytes(cluster.connection_secret) if cluster.connection_secret else b""
    policy = RetryPolicy(retries=0, base=0.0, cap=0.0, deadline=timeout)
    if not secret and not connection.get("kubernetesAPIEndpoint"):
        if (cluster.labels or {}).get(CLUSTER_ROLE_LABEL) != "host":
            raise KubeNotConfigured(f'cluster "{cluster.name}" has no stored connection')
        if not host_configured():
            raise KubeNotConfigured("no host cluster: set EDGE_KUBECONFIG or run in a pod")
        fingerprint = _digest({"kubeconfig": settings.EDGE_KUBECONFIG, "context": settings.EDGE_KUBE_CONTEXT,
                               "mtime": _mtime(settings.EDGE_KUBECONFIG), "timeout": timeout})
        return _cached(f"probe:{HOST}", fingerprint,
                       lambda: KubeClient(HOST, _host_configuration(), policy, (timeout, timeout)))
    fingerprint = _digest({"connection": connection, "secret": hashlib.sha256(secret).hexdigest(),
                           "timeout": timeout})

    def build() -> KubeClient:
        secrets = crypto.decrypt_json(secret) if secret else {}
        return KubeClient(cluster.name, _configuration(cluster.name, connection, secrets), policy,
                          (timeout, timeout))

    return _cached(f"probe:cluster:{cluster.name}", fingerprint, build)


def member_credentials(cluster) -> tuple[str | None, str | None]:
    """The client certificate (PEM, from the stored kubeconfig's current user) and the bearer token (the stored
    token, else the kubeconfig user's) of a member ``Cluster``, for an expiry check; ``(None, None)`` when it
    has none. Holds decrypted credentials: never log or store them."""
    secret = bytes(cluster.connection_secret) if cluster.connection_secret else b""
    secrets = crypto.decrypt_json(secret) if secret else {}
    certificate, token = None, secrets.get("token") or None
    document = _parse_kubeconfig(secrets["kubeconfig"]) if secrets.get("kubeconfig") else None
    if document:
        contexts = {item.get("name"): item.get("context") or {} for item in document.get("contexts") or []
                    if isinstance(item, dict)}
        wanted = (contexts.get(document.get("current-context")) or {}).get("user")
        users = [item for item in document.get("users") or [] if isinstance(item, dict)]
        user = next((item for item in users if item.get("name") == wanted), users[0] if users else None)
        body = (user or {}).get("user") or {}
        if isinstance(body, dict):
            data = body.get("client-certificate-data")
            if isinstance(data, str) and data:
                try:
                    certificate = base64.b64decode(data).decode("ascii", errors="replace")
                except (binascii.Error, ValueError):
                    certificate = None
            token = token or body.get("token") or None
    return certificate, token


def member_kubeconfig(cluster) -> dict | None:
    """A kubeconfig document for a member ``Cluster`` (for tools that read kubeconfig files, such as Helm), or
    None when the cluster is the host without a connection of its own. Holds decrypted credentials: write it
    only to a private file and delete it after use."""
    connection = dict(((cluster.spec or {}).get("connection")) or {})
    secret = bytes(cluster.connection_secret) if cluster.connection_secret else b""
    if not secret and not connection.get("kubernetesAPIEndpoint"):
        if (cluster.labels or {}).get(CLUSTER_ROLE_LABEL) == "host":
            return None
        raise KubeNotConfigured(f'cluster "{cluster.name}" has no stored connection')
    secrets = crypto.decrypt_json(secret) if secret else {}
    if secrets.get("kubeconfig"):
        return _kubeconfig_document(cluster.name, secrets["kubeconfig"])
    configuration = _configuration(cluster.name, connection, secrets)
    user = {"token": secrets["token"]} if secrets.get("token") else {}
    return {"apiVersion": "v1", "kind": "Config", "current-context": cluster.name,
            "clusters": [{"name": cluster.name, "cluster": {"server": configuration.host}}],
            "users": [{"name": cluster.name, "user": user}],
            "contexts": [{"name": cluster.name, "context": {"cluster": cluster.name, "user": cluster.name}}]}


def _configuration(name: str, connection: dict, secrets: dict) -> Configuration:
    """A client Configuration from a kubeconfig, or from an endpoint plus a bearer token."""
    configuration = Configuration()
    if secrets.get("kubeconfig"):
        document = _kubeconfig_document(name, secrets["kubeconfig"])
        try:
            kube_config.load_kube_config_from_dict(document, client_configuration=configuration,
                                                   persist_config=False)
        except ConfigException as error:
            # the loader's message names fields, never their values
            raise KubeNotConfigured(f'cluster "{name}": its kubeconfig is unusable: {error}')
        return configuration
    endpoint = connection.get("kubernetesAPIEndpoint") or ""
    if not endpoint:
        raise KubeNotConfigured(f'cluster "{name}": the connection has neither a kubeconfig nor an endpoint')
    if "://" not in endpoint:
        endpoint = f"https://{endpoint}"
    port = connection.get("kubernetesAPIServerPort")
    if port and endpoint.count(":") < 2:
        endpoint = f"{endpoint.rstrip('/')}:{port}"
    configuration.host = endpoint.rstrip("/")
    if secrets.get("token"):
        configuration.api_key = {"BearerToken": secrets["token"]}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    return configuration


#: The entries a stored kubeconfig may have in ``users[].user`` and ``clusters[].cluster``. An allow-list:
#: Helm reads the same document with client-go, which may give a key the Python client ignores a meaning.
_USER_KEYS = frozenset({"token", "client-certificate-data", "client-key-data", "username", "password", "as",
                        "as-uid", "as-groups", "as-user-extra", "extensions"})
_CLUSTER_KEYS = frozenset({"server", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name",
                           "proxy-url", "disable-compression", "extensions"})
_WHY_REFUSED = {"exec": "would run a command on the platform host",
                "auth-provider": "would run an authentication plugin on the platform host",
                "tokenFile": "would read a file on the platform host",
                "client-certificate": "would read a file on the platform host",
                "client-key": "would read a file on the platform host",
                "certificate-authority": "would read a file on the platform host"}
KUBECONFIG_HINT = ("exec, auth-provider and file references are not allowed: embed credentials as "
                   "client-certificate-data / client-key-data / certificate-authority-data, or use a token")


def kubeconfig_problems(value: str) -> list[str]:
    """Why a kubeconfig (YAML, or base64 of it) may not be stored or used: it is unreadable, or an entry would
    run a program or read a file on the platform host. Empty when it is acceptable."""
    document = _parse_kubeconfig(value)
    return ["is neither YAML nor base64-encoded YAML"] if document is None else _unsafe_entries(document)


def _unsafe_entries(document: dict) -> list[str]:
    """``users[0].user.exec: would run a command on the platform host``, … for every entry not allowed."""
    problems = []
    for section, entry, allowed in (("users", "user", _USER_KEYS), ("clusters", "cluster", _CLUSTER_KEYS)):
        items = document.get(section) or []
        if not isinstance(items, list):
            problems.append(f"{section}: must be a list")
            continue
        for index, item in enumerate(items):
            where = f"{section}[{index}].{entry}"
            body = item.get(entry) if isinstance(item, dict) else None
            if body is None:
                continue
            if not isinstance(body, dict):
                problems.append(f"{where}: must be a map")
                continue
            for key in sorted(set(body) - allowed, key=str):
                problems.append(f"{where}.{key}: {_WHY_REFUSED.get(key, 'is not supported')}")
    return problems


def _kubeconfig_document(name: str, value: str) -> dict:
    """The stored kubeconfig of cluster ``name`` as a document, refused when it would run a program or read a
    file here (it may have been stored before the write path checked that)."""
    document = _parse_kubeconfig(value)
    if document is None:
        raise KubeNotConfigured(f'cluster "{name}": the stored kubeconfig is neither YAML nor base64-encoded YAML')
    problems = _unsafe_entries(document)
    if problems:
        raise KubeconfigRefused(f'cluster "{name}": its stored kubeconfig is refused ({"; ".join(problems)}); '
                                f"{KUBECONFIG_HINT}")
    return document


def _parse_kubeconfig(value) -> dict | None:
    """A kubeconfig given as YAML text, or base64 of it (as some cluster managers store it); None otherwise."""
    if not isinstance(value, str):
        return None
    try:
        document = documents.load_yaml(value)
    except documents.DocumentError:
        document = None
    if not isinstance(document, dict):
        try:
            document = documents.load_yaml(base64.b64decode(value, validate=True).decode("utf-8"))
        except (binascii.Error, ValueError, documents.DocumentError):
            document = None
    return document if isinstance(document, dict) else None


def _settings() -> list:
    return [*_timeout(), settings.EDGE_KUBE_RETRIES, settings.EDGE_KUBE_BACKOFF, settings.EDGE_KUBE_BACKOFF_MAX,
            settings.EDGE_KUBE_DEADLINE]


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime if path else 0.0
    except OSError:
        return 0.0


def _digest(value: dict) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
