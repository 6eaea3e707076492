"""Where clients come from: the host cluster (in-cluster or ``EDGE_KUBECONFIG``) and member clusters (their
stored, encrypted connection). This module is the only place that decrypts a Cluster's connection secrets.

Clients are cached per cluster and rebuilt when the connection changes (a fingerprint of the stored fields)
or when the process has forked (pooled sockets must not be shared across processes).
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

from .client import KubeClient
from .errors import KubeNotConfigured
from .retry import RetryPolicy

__all__ = ["forget_clients", "host_client", "host_configured", "member_client", "member_kubeconfig"]

HOST = "host"
HOST_ROLE_LABEL = "cluster.theriseunion.io/role"

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

    def build() -> KubeClient:
        configuration = Configuration()
        try:
            if path:
                kube_config.load_kube_config(config_file=path, context=context, client_configuration=configuration,
                                             persist_config=False)
            else:
                kube_config.load_incluster_config(client_configuration=configuration)
        except (ConfigException, OSError, yaml.YAMLError) as error:
            raise KubeNotConfigured(f"host cluster configuration is unusable: {error}")
        return KubeClient(HOST, configuration, _policy(), _timeout())

    return _cached(HOST, fingerprint, build)


def member_client(cluster) -> KubeClient:
    """The client of a member ``Cluster``, from its stored connection (the host client for the host cluster)."""
    connection = dict(((cluster.spec or {}).get("connection")) or {})
    secret = bytes(cluster.connection_secret) if cluster.connection_secret else b""
    if not secret and not connection.get("kubernetesAPIEndpoint"):
        if (cluster.labels or {}).get(HOST_ROLE_LABEL) == "host":
            return host_client()
        raise KubeNotConfigured(f'cluster "{cluster.name}" has no stored connection')
    fingerprint = _digest({"connection": connection, "secret": hashlib.sha256(secret).hexdigest(),
                           "policy": _settings()})

    def build() -> KubeClient:
        secrets = crypto.decrypt_json(secret) if secret else {}
        configuration = _configuration(cluster.name, connection, secrets)
        return KubeClient(cluster.name, configuration, _policy(), _timeout())

    return _cached(f"cluster:{cluster.name}", fingerprint, build)


def member_kubeconfig(cluster) -> dict | None:
    """A kubeconfig document for a member ``Cluster`` (for tools that read kubeconfig files, such as Helm), or
    None when the cluster is the host without a connection of its own. Holds decrypted credentials: write it
    only to a private file and delete it after use."""
    connection = dict(((cluster.spec or {}).get("connection")) or {})
    secret = bytes(cluster.connection_secret) if cluster.connection_secret else b""
    if not secret and not connection.get("kubernetesAPIEndpoint"):
        if (cluster.labels or {}).get(HOST_ROLE_LABEL) == "host":
            return None
        raise KubeNotConfigured(f'cluster "{cluster.name}" has no stored connection')
    secrets = crypto.decrypt_json(secret) if secret else {}
    if secrets.get("kubeconfig"):
        return _kubeconfig_document(secrets["kubeconfig"])
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
        document = _kubeconfig_document(secrets["kubeconfig"])
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


def _kubeconfig_document(value: str) -> dict:
    """A kubeconfig given as YAML text, or base64 of it (as some cluster managers store it)."""
    try:
        document = yaml.safe_load(value)
    except yaml.YAMLError:
        document = None
    if not isinstance(document, dict):
        try:
            document = yaml.safe_load(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError, yaml.YAMLError):
            document = None
    if not isinstance(document, dict):
        raise KubeNotConfigured("the stored kubeconfig is neither YAML nor base64-encoded YAML")
    return document


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
