"""A chart repository for tests: charts packaged from directories and served as ChartMuseum does
(``/index.yaml`` with sha256 digests, ``/charts/<name>-<version>.tgz``) on 127.0.0.1.

    repo = ChartRepoServer(tmp_path).add(CHARTS / "demo").add(CHARTS / "demo", version="0.2.0").start()
    ...
    repo.stop()

Charts are packaged by hand with ``tarfile`` (the layout ``helm package`` writes: one top directory named after
the chart), so the test process never loads Helm's Go runtime.
"""
from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml


def package(chart_dir: Path, version: str | None = None, *, top: str | None = None, **fields) -> tuple[dict, bytes]:
    """(Chart.yaml metadata, .tgz bytes) of the chart in ``chart_dir``, optionally with another version and other
    Chart.yaml ``fields`` (a ``name``, …), its files under ``<top>/`` (default: the chart's name)."""
    metadata = {**yaml.safe_load((chart_dir / "Chart.yaml").read_text()), **fields}
    if version is not None:
        metadata["version"] = version
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(p for p in chart_dir.rglob("*") if p.is_file()):
            relative = path.relative_to(chart_dir).as_posix()
            data = yaml.safe_dump(metadata).encode() if relative == "Chart.yaml" else path.read_bytes()
            info = tarfile.TarInfo(f"{top or metadata['name']}/{relative}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return metadata, buffer.getvalue()


class ChartRepoServer:
    """A static chart repository in ``directory``: ``add`` charts, ``start``, ``stop``; ``requests`` counts hits."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        (self.directory / "charts").mkdir(parents=True, exist_ok=True)
        self.entries: dict[str, list[dict]] = {}
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    def add(self, chart_dir: Path, version: str | None = None, digest: str | None = None) -> ChartRepoServer:
        """Package and publish a chart; ``digest`` overrides the index's digest (to test a mismatch)."""
        metadata, data = package(chart_dir, version)
        filename = f"{metadata['name']}-{metadata['version']}.tgz"
        (self.directory / "charts" / filename).write_bytes(data)
        entry = dict(metadata, urls=[f"charts/{filename}"], created=datetime.now(UTC).isoformat(),
                     digest=digest or hashlib.sha256(data).hexdigest())
        self.entries.setdefault(metadata["name"], []).append(entry)
        self._write_index()
        return self

    def _write_index(self) -> None:
        index = {"apiVersion": "v1", "entries": self.entries, "generated": datetime.now(UTC).isoformat()}
        (self.directory / "index.yaml").write_text(yaml.safe_dump(index))

    def start(self) -> ChartRepoServer:
        """Serve on a free port of 127.0.0.1 in a background thread."""
        repo = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(repo.directory), **kwargs)

            def do_GET(self):
                repo.requests.append(self.path)
                super().do_GET()

            def log_message(self, format, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"  # kept after stop(): the address then refuses connections
        return self

    def stop(self) -> None:
        """Stop serving (the port refuses connections afterwards)."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
