"""``manage.py charts import|list``: load chart archives into the platform's repositories (an air-gapped site's
bundle) and list what they hold.

    manage.py charts import bundle/                       # every .tgz and chart directory in bundle/, into library
    manage.py charts import vcluster-0.24.0.tgz --repository edge-1
    manage.py charts import ./mychart --force             # a chart directory, packaged here; overwrite its version
    manage.py charts list [--repository library]

A version already in the repository is skipped (``--force`` overwrites it); an archive that is no chart is reported
and the others still load. Each import is audited as ``system:charts-import``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from charts import access, services, store
from charts.models import LIBRARY, ChartVersion
from charts.packaging import is_chart_directory, package_directory
from edgeplatform import auditing

__all__ = ["Command"]


def _sources(path: Path) -> list[tuple[str, Path]]:
    """(kind, path) of what ``path`` names: an archive, a chart directory, or a directory of them."""
    if path.is_file():
        return [("archive", path)]
    if is_chart_directory(path):
        return [("directory", path)]
    if path.is_dir():
        found = []
        for child in sorted(path.iterdir()):
            if child.is_file() and child.name.endswith((".tgz", ".tar.gz")):
                found.append(("archive", child))
            elif is_chart_directory(child):
                found.append(("directory", child))
        return found
    raise CommandError(f"{path}: no such file or directory")


class Command(BaseCommand):
    """Import charts into a repository, or list the repositories' charts."""

    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        """Sub-commands and their arguments."""
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("import", help="load .tgz archives and chart directories into a repository")
        load.add_argument("paths", nargs="+", help=".tgz files, chart directories, or directories of either")
        load.add_argument("--repository", default=LIBRARY, help="library (the default) or a cluster's name")
        load.add_argument("--force", action="store_true", help="overwrite versions the repository already holds")
        listing = sub.add_parser("list", help="the charts of every repository, or of one")
        listing.add_argument("--repository", default=None)

    def handle(self, *args, action, **options):
        """Run the sub-command."""
        getattr(self, f"_{action}")(**options)

    def _import(self, paths, repository, force, **_):
        if access.scope_path(repository) is None:
            raise CommandError(f'no repository "{repository}": use library or the name of a registered cluster')
        sources = [source for path in paths for source in _sources(Path(path))]
        if not sources:
            raise CommandError("nothing to import: no .tgz archive or chart directory found")
        counts = {"imported": 0, "skipped": 0, "refused": 0}
        with auditing.actor("system:charts-import"):
            for kind, path in sources:
                counts[self._import_one(repository, kind, path, force)] += 1
        summary = ", ".join(f"{count} {what}" for what, count in counts.items())
        self.stdout.write(f"{repository}: {summary}")
        if counts["refused"]:
            raise CommandError(f'{counts["refused"]} of {len(sources)} refused')

    def _import_one(self, repository: str, kind: str, path: Path, force: bool) -> str:
        data = package_directory(path) if kind == "directory" else path.read_bytes()
        try:
            metadata = store.archive_metadata(data)
        except store.ArchiveError as error:
            self.stderr.write(f"refused  {path}: {error}")
            return "refused"
        name, version, digest = metadata["name"], metadata["version"], hashlib.sha256(data).hexdigest()
        existing = ChartVersion.objects.filter(repository=repository, name=name, version=version).first()
        if existing is not None and (existing.digest == digest or not force):
            why = "the same archive is there" if existing.digest == digest else \
                f"another archive (sha256:{existing.digest[:12]}) holds this version; --force overwrites it"
            self.stdout.write(f"skipped  {name} {version} ({path}): {why}")
            return "skipped"
        try:
            row = services.upload(repository, data, force=force)
        except (store.ArchiveError, store.ChartExists) as error:
            self.stderr.write(f"refused  {path}: {error}")
            return "refused"
        self.stdout.write(f"imported {row.name} {row.version} sha256:{row.digest[:12]} ({path})")
        return "imported"

    def _list(self, repository=None, **_):
        rows = ChartVersion.objects.order_by("repository", "name", "-created")
        if repository:
            rows = rows.filter(repository=repository)
        header = f"{'REPOSITORY':<20} {'NAME':<30} {'VERSION':<16} {'DIGEST':<14} {'SIZE':>9}  UPLOADED BY"
        self.stdout.write(header)
        for row in rows:
            self.stdout.write(f"{row.repository:<20} {row.name:<30} {row.version:<16} {row.digest[:12]:<14} "
                              f"{row.size:>9}  {row.uploaded_by or 'system'}")
