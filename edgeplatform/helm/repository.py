"""A client for Helm chart repositories served over HTTP (``index.yaml`` plus ``.tgz`` archives, as ChartMuseum
serves them), with a cache keyed by digest so a chart fetched once installs without the network.

    repository = ChartRepository("http://charts.example:8080")
    path = repository.fetch("ingress", "1.2.0")      # or version=None for the latest stable version

Every archive is checked against the ``digest`` (sha256) its index entry carries before it is cached; a mismatch
is refused. The last index read is cached too, so with the repository unreachable or answering 404/5xx an
already-fetched version still resolves (and installs from the cache without the network).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests
import yaml
from django.conf import settings

from .errors import HelmError

__all__ = ["ChartRepository", "ChartVersion", "is_stable", "pick_version", "version_key"]

log = logging.getLogger(__name__)
_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class ChartVersion:
    """One entry of a repository index: a chart version, its archive URL and its sha256 digest (hex)."""

    name: str
    version: str
    digest: str
    url: str


def version_key(version: str) -> tuple | None:
    """A sort key of a semantic version (a pre-release before its release); None when it is not one."""
    match = _SEMVER.match(version)
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    # semver: a pre-release sorts before its release; identifiers compare numerically when numeric
    pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")) if pre else None
    return int(major), int(minor or 0), int(patch or 0), pre_key is None, pre_key or ()


def is_stable(version: str) -> bool:
    """True for a semantic version that is no pre-release."""
    return bool((version_key(version) or (0, 0, 0, False))[3])


def pick_version(candidates, name: str, version: str | None, where: str):
    """Of ``candidates`` (versions of chart ``name``, anything with a ``.version``): the one at exactly ``version``
    (a leading ``v`` ignored), or the latest stable one when None (the latest of all when none is stable); a
    ``HelmError`` of kind ``not-found`` naming ``where`` (the repository) and what is there otherwise."""
    candidates = sorted(candidates, key=lambda c: version_key(c.version) or (-1,), reverse=True)
    if not candidates:
        raise HelmError(f'chart "{name}" is not in repository {where}', kind="not-found")
    if version:
        for candidate in candidates:
            if candidate.version.lstrip("v") == version.lstrip("v"):
                return candidate
        raise HelmError(f'chart "{name}" has no version {version} in repository {where} '
                        f'(available: {", ".join(c.version for c in candidates[:10])})', kind="not-found")
    stable = [c for c in candidates if is_stable(c.version)]
    return (stable or candidates)[0]


class ChartRepository:
    """One chart repository at ``url`` (optionally with basic auth); archives cached under ``cache_dir``
    (default ``EDGE_HELM_HOME/charts``)."""

    def __init__(self, url: str, cache_dir: Path | None = None, timeout: float | None = None,
                 username: str | None = None, password: str | None = None):
        self.url = url.rstrip("/") + "/"
        self.cache_dir = Path(cache_dir or Path(settings.EDGE_HELM_HOME) / "charts")
        self.timeout = timeout or settings.EDGE_HELM_REPOSITORY_TIMEOUT
        self.auth = (username, password or "") if username else None

    # ----- index -----

    @property
    def _index_cache(self) -> Path:
        return self.cache_dir / "indexes" / f"{hashlib.sha256(self.url.encode()).hexdigest()[:32]}.yaml"

    def index(self) -> dict:
        """The repository's ``index.yaml``; the copy cached by the last good read (with a warning logged) when the
        repository cannot be reached or answers 404 or 5xx, so charts already cached by digest still install."""
        try:
            response = requests.get(urljoin(self.url, "index.yaml"), timeout=self.timeout, auth=self.auth)
        except requests.RequestException as error:
            return self._cached_index(f"is unreachable: {error}")
        if response.status_code == 404 or response.status_code >= 500:
            return self._cached_index(f"answered {response.status_code} for index.yaml")
        if response.status_code != 200:  # e.g. 401/403: a refusal to act on, not an outage to ride out
            raise HelmError(f"chart repository {self.url} answered {response.status_code} for index.yaml",
                            kind="repository")
        try:
            document = yaml.safe_load(response.content) or {}
        except yaml.YAMLError as error:
            raise HelmError(f"chart repository {self.url}: index.yaml is not valid YAML: {error}",
                            kind="repository")
        if not isinstance(document, dict) or not isinstance(document.get("entries", {}), dict):
            raise HelmError(f"chart repository {self.url}: index.yaml has no entries map", kind="repository")
        _write_atomically(self._index_cache, response.content)
        return document

    def _cached_index(self, problem: str) -> dict:
        """The cached index, when the repository has ``problem``; a ``HelmError`` naming it when none is cached."""
        if not self._index_cache.exists():
            raise HelmError(f"chart repository {self.url} {problem}", kind="repository")
        log.warning("chart repository %s %s; using the index cached at %s", self.url, problem, self._index_cache)
        return yaml.safe_load(self._index_cache.read_bytes()) or {}

    def versions(self, name: str) -> list[ChartVersion]:
        """Every version of chart ``name`` in the index, newest first."""
        entries = (self.index().get("entries") or {}).get(name) or []
        versions = []
        for entry in entries:
            urls = entry.get("urls") or []
            if not urls or not entry.get("version"):
                continue
            digest = str(entry.get("digest") or "").removeprefix("sha256:")
            versions.append(ChartVersion(name, str(entry["version"]), digest, urljoin(self.url, urls[0])))
        return sorted(versions, key=lambda v: version_key(v.version) or (-1,), reverse=True)

    def resolve(self, name: str, version: str | None = None) -> ChartVersion:
        """The index entry of ``name`` at exactly ``version``, or its latest stable version when None."""
        return pick_version(self.versions(name), name, version, self.url)

    # ----- archives -----

    def cached_path(self, chart: ChartVersion) -> Path:
        """Where the archive with this digest is (or would be) cached."""
        return self.cache_dir / f"{chart.name}-{chart.version}-{chart.digest}.tgz"

    def fetch(self, name: str, version: str | None = None) -> Path:
        """The local path of chart ``name`` (exact ``version`` or latest): from the cache when an archive with
        the index's digest is there, else downloaded, verified against the digest, and cached."""
        return self.download(self.resolve(name, version))

    def download(self, chart: ChartVersion) -> Path:
        """The local path of the archive of an index entry (from :meth:`resolve`): from the cache when an archive
        with its digest is there, else downloaded, verified against the digest, and cached."""
        name = chart.name
        if not re.fullmatch(r"[0-9a-f]{64}", chart.digest):
            raise HelmError(f'chart "{name}" {chart.version}: the index carries no sha256 digest; refusing an '
                            f'unverifiable archive', kind="digest")
        path = self.cached_path(chart)
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == chart.digest:
            return path
        try:
            response = requests.get(chart.url, timeout=self.timeout, auth=self.auth)
        except requests.RequestException as error:
            raise HelmError(f'chart "{name}" {chart.version}: download from {chart.url} failed: {error}',
                            kind="repository")
        if response.status_code != 200:
            raise HelmError(f'chart "{name}" {chart.version}: {chart.url} answered {response.status_code}',
                            kind="repository")
        actual = hashlib.sha256(response.content).hexdigest()
        if actual != chart.digest:
            raise HelmError(f'chart "{name}" {chart.version}: digest mismatch: the index says sha256:{chart.digest}, '
                            f'the archive is sha256:{actual}; refusing it', kind="digest")
        _write_atomically(path, response.content)
        return path


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_bytes(content)
    os.replace(temporary, path)
