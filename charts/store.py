"""Reading and writing the platform's chart repositories: archives in the ``charts`` storage, metadata in rows.

    chart = store.put("library", archive_bytes)            # a validated .tgz; ArchiveError when it is not one
    chart = store.resolve("edge-1", "web", "1.2.0")          # or version=None: the latest stable version
    path = store.local_path(chart)                           # a local copy, verified by digest, for the Helm driver

``local_path`` keeps its copies where the Helm driver's repository client keeps downloaded charts
(``EDGE_HELM_HOME/charts/<name>-<version>-<digest>.tgz``), so a chart once read installs without the storage or
the network.

Every write (``put``, ``delete``) drops the repository's cached ``index.yaml`` once its transaction commits
(``charts.index``); an archive is refused whole (no row, no file) when it is no chart, is larger than
``EDGE_CHART_MAX_BYTES``, or its top directory is not named after the chart.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from pathlib import Path

import yaml
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.utils import timezone

from edgeplatform.helm import HelmError
from edgeplatform.helm.repository import pick_version, version_key

from . import index
from .models import ChartVersion

__all__ = ["ArchiveError", "ChartExists", "archive_metadata", "delete", "local_path", "max_bytes", "put", "resolve",
           "storage"]

#: the most a Chart.yaml may hold (it is read into memory; a chart's metadata is a few kilobytes)
CHART_YAML_LIMIT = 1024 * 1024
#: a chart name as Helm accepts it (and safe in a file name and a URL path)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,249}")


class ArchiveError(ValueError):
    """An upload that is no chart archive (what is wrong, in words)."""


class ChartExists(Exception):
    """The repository already holds this chart version (and the upload did not ask to overwrite it)."""


def max_bytes() -> int:
    """The largest archive a repository takes (``EDGE_CHART_MAX_BYTES``)."""
    return int(settings.EDGE_CHART_MAX_BYTES)


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
        charts = [m for m in members if m.name.lstrip("./").count("/") == 1 and m.name.endswith("/Chart.yaml")]
        if not charts:
            raise ArchiveError("no Chart.yaml in the archive's top directory")
        if charts[0].size > CHART_YAML_LIMIT:
            raise ArchiveError(f"Chart.yaml is larger than {CHART_YAML_LIMIT} bytes")
        try:
            metadata = yaml.safe_load(archive.extractfile(charts[0]).read())
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ArchiveError(f"the archive is damaged: {error}") from None
        except yaml.YAMLError as error:
            raise ArchiveError(f"Chart.yaml is not valid YAML: {error}") from None
    if not isinstance(metadata, dict) or not metadata.get("name") or not metadata.get("version"):
        raise ArchiveError("Chart.yaml needs a name and a version")
    # YAML's own types (an unquoted date in annotations) as the strings JSON and index.yaml can carry
    metadata = json.loads(json.dumps(metadata, default=str))
    metadata["name"], metadata["version"] = str(metadata["name"]), str(metadata["version"])
    if version_key(metadata["version"]) is None:
        raise ArchiveError(f'Chart.yaml: version "{metadata["version"]}" is not a semantic version')
    if not _NAME.fullmatch(metadata["name"]):
        raise ArchiveError(f'Chart.yaml: name "{metadata["name"]}" is not a chart name (letters, digits, "-", "_", '
                           f'".", starting with a letter or digit)')
    # `helm package` writes the chart under a directory named after it; another name means a mislabelled archive
    top = charts[0].name.lstrip("./").split("/")[0]
    if top != metadata["name"]:
        raise ArchiveError(f'the archive holds the chart under "{top}/", not under its name "{metadata["name"]}/"')
    return metadata


def put(repository: str, data: bytes, *, force: bool = False, user: str = "") -> ChartVersion:
    """Store a chart archive in ``repository``; ``ChartExists`` when that version is there and not ``force``.

    The returned row carries ``replaced`` (the digest it overwrote, or None)."""
    if len(data) > max_bytes():
        raise ArchiveError(f"the archive is {len(data)} bytes, more than the limit of {max_bytes()} bytes")
    metadata = archive_metadata(data)
    digest = hashlib.sha256(data).hexdigest()
    name, version = metadata["name"], metadata["version"]
    try:
        with transaction.atomic():
            existing = ChartVersion.objects.select_for_update().filter(repository=repository, name=name,
                                                                       version=version).first()
            if existing is not None and not force:
                raise ChartExists(f"{name}-{version} already exists in repository {repository}")
            file = storage().save(f"{repository}/{name}-{version}-{digest[:16]}.tgz", ContentFile(data))
            chart = existing or ChartVersion(repository=repository, name=name, version=version)
            old_file = existing.file if existing is not None else None
            replaced = existing.digest if existing is not None else None
            chart.digest, chart.size, chart.file = digest, len(data), file
            chart.metadata, chart.uploaded_by = metadata, user
            if existing is not None:  # an overwrite is a new upload: it is listed with its own time
                chart.created = timezone.now()
            try:
                chart.save()
            except BaseException:  # no row, no file
                storage().delete(file)
                raise
            # now for this transaction's own readers, and again at commit for a render that read the rows before it
            index.invalidate(repository)
            transaction.on_commit(lambda: index.invalidate(repository))
            if old_file and old_file != file:
                transaction.on_commit(lambda: storage().delete(old_file))
    except IntegrityError:  # a concurrent upload of the same version committed first (its file was removed above)
        raise ChartExists(f"{name}-{version} already exists in repository {repository}") from None
    chart.replaced = replaced
    return chart


def delete(repository: str, name: str, version: str | None = None) -> list[ChartVersion]:
    """Remove chart ``name`` (one ``version``, or all of them) from ``repository``; the removed rows (empty when
    there was nothing to remove). Archives go from storage once the transaction commits."""
    with transaction.atomic():
        rows = ChartVersion.objects.select_for_update().filter(repository=repository, name=name)
        if version is not None:
            rows = rows.filter(version=version)
        removed = list(rows)
        ChartVersion.objects.filter(pk__in=[row.pk for row in removed]).delete()
        files = [row.file for row in removed]
        if removed:
            index.invalidate(repository)
            transaction.on_commit(lambda: index.invalidate(repository))
            transaction.on_commit(lambda: [storage().delete(file) for file in files])
    return removed


def resolve(repository: str, name: str, version: str | None = None) -> ChartVersion:
    """The stored chart ``name`` at ``version`` (a leading ``v`` ignored), or its latest stable version when
    None; a ``HelmError`` of kind ``not-found`` naming what is there otherwise."""
    return pick_version(ChartVersion.objects.filter(repository=repository, name=name), name, version, repository)


def local_path(chart: ChartVersion) -> Path:
    """A local copy of the archive, checked against its digest (read from storage only when not cached)."""
    path = Path(settings.EDGE_HELM_HOME) / "charts" / f"{chart.name}-{chart.version}-{chart.digest}.tgz"
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == chart.digest:
        return path
    try:
        with storage().open(chart.file, "rb") as handle:
            data = handle.read()
    except Exception as error:  # any backend's failure (a missing file, S3 unreachable) is the repository's
        raise HelmError(f'chart "{chart.name}" {chart.version}: its archive cannot be read from the chart storage '
                        f'and no verified copy is cached: {error}', kind="repository") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != chart.digest:
        raise HelmError(f'chart "{chart.name}" {chart.version}: the stored archive is sha256:{actual}, its record '
                        f'says sha256:{chart.digest}; refusing it', kind="digest")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path
