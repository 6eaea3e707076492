"""Reading and writing the platform's chart repositories: archives in the ``charts`` storage, metadata in rows.

    chart = store.put("library", archive_bytes)            # a validated .tgz; ArchiveError when it is not one
    chart = store.resolve("edge-1", "web", "1.2.0")          # or version=None: the latest stable version
    path = store.local_path(chart)                           # a local copy, verified by digest, for the Helm driver

``local_path`` keeps its copies where the Helm driver's repository client keeps downloaded charts
(``EDGE_HELM_HOME/charts/<name>-<version>-<digest>.tgz``), so a chart once read installs without the storage or
the network.
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import yaml
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction

from edgeplatform.helm import HelmError
from edgeplatform.helm.repository import is_stable, version_key

from .models import ChartVersion

__all__ = ["ArchiveError", "ChartExists", "archive_metadata", "local_path", "put", "resolve", "storage"]


class ArchiveError(ValueError):
    """An upload that is no chart archive (what is wrong, in words)."""


class ChartExists(Exception):
    """The repository already holds this chart version (and the upload did not ask to overwrite it)."""


def storage():
    """The storage chart archives live in (``STORAGES["charts"]``)."""
    return storages["charts"]


def archive_metadata(data: bytes) -> dict:
    """The ``Chart.yaml`` of a chart archive (a gzipped tar with one top directory holding ``Chart.yaml``);
    ``ArchiveError`` when it is not one."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ArchiveError(f"not a gzipped tar archive: {error}") from None
    with archive:
        try:
            members = [m for m in archive.getmembers() if m.isfile()]
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ArchiveError(f"the archive is damaged: {error}") from None
        charts = [m for m in members if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml")]
        if not charts:
            raise ArchiveError("no Chart.yaml in the archive's top directory")
        try:
            metadata = yaml.safe_load(archive.extractfile(charts[0]).read())
        except yaml.YAMLError as error:
            raise ArchiveError(f"Chart.yaml is not valid YAML: {error}") from None
    if not isinstance(metadata, dict) or not metadata.get("name") or not metadata.get("version"):
        raise ArchiveError("Chart.yaml needs a name and a version")
    metadata["name"], metadata["version"] = str(metadata["name"]), str(metadata["version"])
    if version_key(metadata["version"]) is None:
        raise ArchiveError(f'Chart.yaml: version "{metadata["version"]}" is not a semantic version')
    return metadata


def put(repository: str, data: bytes, *, force: bool = False, user: str = "") -> ChartVersion:
    """Store a chart archive in ``repository``; ``ChartExists`` when that version is there and not ``force``."""
    metadata = archive_metadata(data)
    digest = hashlib.sha256(data).hexdigest()
    name, version = metadata["name"], metadata["version"]
    with transaction.atomic():
        existing = ChartVersion.objects.select_for_update().filter(repository=repository, name=name,
                                                                   version=version).first()
        if existing is not None and not force:
            raise ChartExists(f"{name}-{version} already exists in repository {repository}")
        file = storage().save(f"{repository}/{name}-{version}-{digest[:16]}.tgz", ContentFile(data))
        chart = existing or ChartVersion(repository=repository, name=name, version=version)
        old_file = existing.file if existing is not None else None
        chart.digest, chart.size, chart.file = digest, len(data), file
        chart.metadata, chart.uploaded_by = metadata, user
        chart.save()
    if old_file and old_file != file:
        transaction.on_commit(lambda: storage().delete(old_file))
    return chart


def resolve(repository: str, name: str, version: str | None = None) -> ChartVersion:
    """The stored chart ``name`` at ``version`` (a leading ``v`` ignored), or its latest stable version when
    None; a ``HelmError`` of kind ``not-found`` naming what is there otherwise."""
    rows = list(ChartVersion.objects.filter(repository=repository, name=name))
    if not rows:
        raise HelmError(f'chart "{name}" is not in repository {repository}', kind="not-found")
    rows.sort(key=lambda row: version_key(row.version) or (-1,), reverse=True)
    if version:
        for row in rows:
            if row.version.lstrip("v") == version.lstrip("v"):
                return row
        raise HelmError(f'chart "{name}" has no version {version} in repository {repository} '
                        f'(available: {", ".join(row.version for row in rows[:10])})', kind="not-found")
    stable = [row for row in rows if is_stable(row.version)]
    return (stable or rows)[0]


def local_path(chart: ChartVersion) -> Path:
    """A local copy of the archive, checked against its digest (read from storage only when not cached)."""
    path = Path(settings.EDGE_HELM_HOME) / "charts" / f"{chart.name}-{chart.version}-{chart.digest}.tgz"
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == chart.digest:
        return path
    with storage().open(chart.file, "rb") as handle:
        data = handle.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != chart.digest:
        raise HelmError(f'chart "{chart.name}" {chart.version}: the stored archive is sha256:{actual}, its record '
                        f'says sha256:{chart.digest}; refusing it', kind="digest")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path
