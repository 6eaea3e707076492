"""Helm releases as the cluster stores them: Secrets of type ``helm.sh/release.v1`` labelled ``owner=helm``.

Reading them is a plain Kubernetes read (no Helm call): the labels name the release, its revision (``version``)
and its status, which is all the no-drift check needs; the payload (base64 of gzipped JSON) holds the chart,
the values, the description and the rendered manifest, which the readiness check and the revision history read.

* ``fleet_releases(client)`` — one LIST of every namespace's release Secrets (the per-cluster sweep's one read);
* ``latest_releases(client, namespace, selector)`` — the same for one namespace (optionally decoded: the app store's
  per-cluster status read);
* ``release_history(client, name, namespace)`` — one LIST of one release's Secrets, decoded, oldest first.
"""
from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["HELM_SELECTOR", "PENDING", "Revision", "fleet_releases", "latest", "latest_releases", "release_history"]

HELM_SELECTOR = "owner=helm"
#: statuses of a release an operation is (or was, when its process died) working on
PENDING = frozenset({"pending-install", "pending-upgrade", "pending-rollback", "uninstalling"})
_SECRETS = "/api/v1/secrets"


@dataclass
class Revision:
    """One stored revision of a release."""

    name: str
    namespace: str
    revision: int
    status: str
    #: when Helm last wrote it (its ``modifiedAt`` label, else ``createdAt``, else the Secret's creation)
    modified: datetime | None = None
    payload: dict = field(default_factory=dict)
    #: the labels of its Secret (Helm's own, and those a release was installed with)
    labels: dict = field(default_factory=dict)

    @property
    def chart_version(self) -> str:
        """The chart version of the revision (from the payload)."""
        return str(((self.payload.get("chart") or {}).get("metadata") or {}).get("version") or "")

    @property
    def app_version(self) -> str:
        """The chart's appVersion (from the payload)."""
        return str(((self.payload.get("chart") or {}).get("metadata") or {}).get("appVersion") or "")

    @property
    def description(self) -> str:
        """Helm's description of what the revision did ("Install complete", "Rollback to 2", …)."""
        return str((self.payload.get("info") or {}).get("description") or "")

    @property
    def values(self) -> dict:
        """The values the revision was made with (Helm's ``config``)."""
        return dict(self.payload.get("config") or {})

    @property
    def manifest(self) -> str:
        """The rendered manifest of the revision."""
        return str(self.payload.get("manifest") or "")


def _moment(labels: dict, metadata: dict) -> datetime | None:
    for key in ("modifiedAt", "createdAt"):
        if str(labels.get(key, "")).isdigit():
            return datetime.fromtimestamp(int(labels[key]), tz=UTC)
    created = metadata.get("creationTimestamp")
    if isinstance(created, str):
        try:
            return datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return None
    return None


def _decode(secret: dict) -> dict:
    """The release JSON inside a release Secret ({} when it cannot be read)."""
    data = (secret.get("data") or {}).get("release")
    if not data:
        return {}
    try:
        raw = base64.b64decode(base64.b64decode(data))
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return json.loads(raw)
    except (ValueError, OSError):
        return {}


def _revision(secret: dict, decode: bool) -> Revision | None:
    metadata = secret.get("metadata") or {}
    labels = metadata.get("labels") or {}
    if labels.get("owner") != "helm" or not str(labels.get("version", "")).isdigit() or not labels.get("name"):
        return None
    return Revision(labels["name"], metadata.get("namespace", ""), int(labels["version"]), labels.get("status", ""),
                    _moment(labels, metadata), _decode(secret) if decode else {}, dict(labels))


def fleet_releases(client) -> dict[tuple[str, str], Revision]:
    """The latest revision of every release on the cluster, by (namespace, name), from one LIST (labels only are
    read; payloads are not decoded)."""
    return latest_releases(client)


def latest_releases(client, namespace: str | None = None, label_selector: str = HELM_SELECTOR,
                    decode: bool = False) -> dict[tuple[str, str], Revision]:
    """The latest revision of every release of ``namespace`` (None: of every namespace) whose Secrets match
    ``label_selector``, by (namespace, name), from one LIST; ``decode`` reads the payload (chart, values,
    manifest, description) of those latest revisions only."""
    path = f"/api/v1/namespaces/{namespace}/secrets" if namespace else _SECRETS
    answer = client.request("GET", path, {"labelSelector": label_selector})
    newest: dict[tuple[str, str], tuple[Revision, dict]] = {}
    for secret in answer.get("items") or []:
        revision = _revision(secret, decode=False)
        if revision is None:
            continue
        key = (revision.namespace, revision.name)
        if key not in newest or newest[key][0].revision < revision.revision:
            newest[key] = (revision, secret)
    if decode:
        for revision, secret in newest.values():
            revision.payload = _decode(secret)
    return {key: revision for key, (revision, _) in newest.items()}


def release_history(client, name: str, namespace: str) -> list[Revision]:
    """Every stored revision of release ``name`` in ``namespace``, decoded, oldest first (one LIST)."""
    path = f"/api/v1/namespaces/{namespace}/secrets"
    answer = client.request("GET", path, {"labelSelector": f"{HELM_SELECTOR},name={name}"})
    revisions = [r for r in (_revision(s, decode=True) for s in answer.get("items") or []) if r is not None]
    return sorted(revisions, key=lambda r: r.revision)


def latest(history: list[Revision], status: str | None = None) -> Revision | None:
    """The newest revision of ``history`` (with that ``status``, when given)."""
    matching = [r for r in history if status is None or r.status == status]
    return matching[-1] if matching else None
