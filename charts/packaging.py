"""Packaging a chart directory into an archive in Python, as ``helm package`` lays it out (one top directory named
after the chart), so an operator's bundle of unpacked charts imports without Helm on the machine.
"""
from __future__ import annotations

import fnmatch
import io
import tarfile
from pathlib import Path

import yaml

__all__ = ["is_chart_directory", "package_directory"]

#: never packaged, whatever .helmignore says
_ALWAYS_IGNORED = (".git", ".hg", ".svn", ".DS_Store")


def is_chart_directory(path: Path) -> bool:
    """Does ``path`` hold an unpacked chart (a ``Chart.yaml``)?"""
    return path.is_dir() and (path / "Chart.yaml").is_file()


def _ignore_patterns(directory: Path) -> list[str]:
    ignore = directory / ".helmignore"
    if not ignore.is_file():
        return []
    lines = (line.strip() for line in ignore.read_text().splitlines())
    return [line.rstrip("/") for line in lines if line and not line.startswith("#") and not line.startswith("!")]


def _ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    if any(part in _ALWAYS_IGNORED for part in parts):
        return True
    return any(fnmatch.fnmatch(relative, pattern) or any(fnmatch.fnmatch(part, pattern) for part in parts)
               for pattern in patterns)


def package_directory(directory: Path) -> bytes:
    """The ``.tgz`` of the chart in ``directory`` (files under ``<name>/``, ``.helmignore`` patterns left out,
    times zeroed so the same directory always gives the same archive and digest)."""
    directory = Path(directory)
    metadata = yaml.safe_load((directory / "Chart.yaml").read_text()) or {}
    name = str(metadata.get("name") or directory.name)
    patterns = _ignore_patterns(directory)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            relative = path.relative_to(directory).as_posix()
            if _ignored(relative, patterns):
                continue
            data = path.read_bytes()
            info = tarfile.TarInfo(f"{name}/{relative}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
