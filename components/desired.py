"""What a component asks for: its release (name, namespace), its chart (resolved to one archive and digest) and
values, and the spec hash that says whether what is installed is still what is asked for.

Chart defaults are the kind's: ``spec.chart.name`` and ``spec.chart.releaseName`` default to the component's
name, ``spec.chart.namespace`` to ``edge-system``. With ``spec.chart.repository`` (a ChartMuseum-style URL) the
chart is fetched with :class:`edgeplatform.helm.ChartRepository` (verified and cached by digest, so a repository
that is down still serves a chart fetched once); without it, from the platform's own repositories: the
cluster's (named after the cluster), then ``library``.

The spec hash is sha256 over the chart digest, the values, the chart version and the release's namespace and
name: the same hash and a healthy release mean there is nothing to do.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from charts import store
from charts.models import LIBRARY
from components.manifests import DEFAULT_NAMESPACE
from edgeplatform.helm import ChartRepository, HelmError

__all__ = ["Chart", "Release", "find_chart", "platform_repositories", "release_of", "resolve_chart", "spec_hash"]

@dataclass(frozen=True)
class Release:
    """The Helm release a component is installed as."""

    name: str
    namespace: str
    chart: str
    version: str | None
    repository: str | None
    values: dict


@dataclass(frozen=True)
class Chart:
    """A chart resolved to one archive: where it came from, its version, digest and local path."""

    name: str
    version: str
    digest: str
    app_version: str
    source: str
    path: Path


def release_of(component) -> Release:
    """The release a component's spec describes, with the kind's defaults filled in."""
    spec = component.spec or {}
    chart = spec.get("chart") or {}
    values = spec.get("values") or {}
    return Release(name=chart.get("releaseName") or component.name,
                   namespace=chart.get("namespace") or DEFAULT_NAMESPACE,
                   chart=chart.get("name") or component.name,
                   version=str(spec["version"]) if spec.get("version") else None,
                   repository=chart.get("repository") or None,
                   values=values if isinstance(values, dict) else {})


def platform_repositories(component) -> tuple[str, str]:
    """The platform repositories a component's chart is looked up in, in order: its cluster's, then library."""
    return component.cluster.name, LIBRARY


def resolve_chart(component, release: Release) -> Chart:
    """The archive to install: from ``release.repository`` over HTTP, else from the platform's repositories;
    ``HelmError(kind="not-found")`` naming where it looked when no repository has it."""
    return find_chart(release.chart, release.version, release.repository, platform_repositories(component))


def find_chart(name: str, version: str | None, url: str | None, repositories: tuple[str, ...] = ()) -> Chart:
    """Chart ``name`` at ``version`` (None: the latest stable one) as one archive: from the chart repository at
    ``url`` over HTTP (verified and cached by digest) when given, else from the first of the platform's
    ``repositories`` (``charts.store``) that has it; ``HelmError(kind="not-found")`` naming where it looked."""
    if url:
        repository = ChartRepository(url)
        entry = repository.resolve(name, version)
        path = repository.download(entry)
        return Chart(entry.name, entry.version, entry.digest, "", url, path)
    problems = []
    for repository_name in repositories:
        try:
            row = store.resolve(repository_name, name, version)
        except HelmError as error:
            if error.kind != "not-found":
                raise
            problems.append(error.message)
            continue
        return Chart(row.name, row.version, row.digest, str((row.metadata or {}).get("appVersion") or ""),
                     repository_name, store.local_path(row))
    raise HelmError("; ".join(problems) or f'chart "{name}": no repository to look in', kind="not-found")


def spec_hash(release: Release, digest: str, version: str) -> str:
    """sha256 of what decides the installed release: chart digest, values, chart version, namespace and name."""
    document = json.dumps({"digest": digest, "values": release.values, "version": version,
                           "namespace": release.namespace, "release": release.name},
                          sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(document.encode()).hexdigest()
