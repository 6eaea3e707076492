"""Chart repository: ``index.yaml`` of a repository of 5,000 chart versions, served by the production path, beside a
static file of the same size served by the same server in the same run.

Run from the repository root::

    .venv/bin/python bench/chartrepo.py [--quick] [-n 5000] [--requests 1000] [--clients 4]

Uses its own SQLite file (``var/bench/chartrepo.sqlite3``) and charts storage, in one process. N chart versions
(50 charts) are uploaded through ``charts.store.put`` (real archives, real digests) into ``library``. Then one
threaded WSGI server (the standard library's ``wsgiref``) on 127.0.0.1 serves both:

- **index**: ``GET /chartrepo/library/index.yaml`` through the whole Django stack — middleware, bearer token
  authentication, the permission engine, the cached index (the first request renders it; it is not counted);
- **static**: ``GET /static/index.yaml``, a file of the same bytes read from disk by a bare WSGI handler.

Several client threads (``http.client``, a connection per request, as ``wsgiref`` speaks HTTP/1.0) send the same
number of requests to each. The table shows P50/P99 latency and requests/s of both and the ratio; the last line is
one JSON object with the figures. ``measure_index(quick)`` runs the measurement for ``bench/components.py``.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "var" / "bench"
SQLITE_FILE = WORK / "chartrepo.sqlite3"
STATIC_PATH = "/static/index.yaml"
CHARTS = 50
#: (versions, requests per side) of the default and the quick run
SIZES = {False: (5000, 1000), True: (1000, 200)}


def configure() -> None:
    """Point Django at the bench's own database and storage (only when nothing set Django up before)."""
    WORK.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(WORK / "chartrepo-storage", ignore_errors=True)
    os.environ.update(DJANGO_SETTINGS_MODULE="edgeplatform.settings", CELERY_BROKER_URL="memory://",
                      DATABASE_URL=f"sqlite:///{SQLITE_FILE}", EDGE_CHARTS_DIR=str(WORK / "chartrepo-storage"),
                      EDGE_HELM_HOME=str(WORK / "chartrepo-helm"))
    os.environ.pop("EDGE_KUBECONFIG", None)
    os.environ.pop("REDIS_URL", None)


def setup_django() -> None:
    """Set Django up with the bench's database, unless the caller (another bench) already did."""
    from django.apps import apps

    if apps.ready:
        return
    configure()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def _application(static_file: Path):
    """Django's WSGI application, with ``STATIC_PATH`` answered from ``static_file`` by a bare handler."""
    from wsgiref.util import FileWrapper

    from django.core.wsgi import get_wsgi_application

    django_app = get_wsgi_application()
    size = str(static_file.stat().st_size)

    def application(environ, start_response):
        if environ.get("PATH_INFO") == STATIC_PATH:
            start_response("200 OK", [("Content-Type", "application/x-yaml"), ("Content-Length", size)])
            return FileWrapper(static_file.open("rb"))
        return django_app(environ, start_response)

    return application


def _archive(name: str, version: str) -> bytes:
    """The project's ``web`` chart packaged as ``name`` at ``version`` (as ``helm package`` lays it out)."""
    import io
    import tarfile

    import yaml

    source = ROOT / "tests" / "fixtures" / "charts" / "web"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            relative = path.relative_to(source).as_posix()
            data = path.read_bytes()
            if relative == "Chart.yaml":
                data = yaml.safe_dump({**yaml.safe_load(data), "name": name, "version": version}).encode()
            info = tarfile.TarInfo(f"{name}/{relative}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _fill(versions: int) -> None:
    """``versions`` chart versions in ``library`` (``CHARTS`` charts), uploaded through the store."""
    from charts import store

    per_chart = -(-versions // CHARTS)
    for made in range(versions):
        chart, minor = divmod(made, per_chart)
        store.put("library", _archive(f"bench-web-{chart}", f"1.{minor}.0"), force=True, user="bench")


def _remove_ours() -> None:
    """Remove the bench's charts (rows and archives) from ``library``."""
    from charts import store
    from charts.models import ChartVersion

    names = ChartVersion.objects.filter(repository="library", name__startswith="bench-web-")
    for name in sorted(set(names.values_list("name", flat=True))):
        store.delete("library", name)


def _load(port: int, path: str, headers: dict, requests: int, clients: int) -> tuple[list[float], float, int]:
    """(latencies in s, wall time, body size) of ``requests`` GETs of ``path`` from ``clients`` threads."""
    latencies: list[float] = []
    sizes: set[int] = set()
    lock = threading.Lock()
    per_client = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]

    def worker(count: int):
        mine, seen = [], set()
        for _ in range(count):
            started = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            connection.close()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}: {body[:200]!r}")
            seen.add(len(body))
        with lock:
            latencies.extend(mine)
            sizes.update(seen)

    threads = [threading.Thread(target=worker, args=(count,)) for count in per_client]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if len(latencies) != requests or len(sizes) != 1:
        raise RuntimeError(f"{path}: {len(latencies)} of {requests} requests answered, body sizes {sizes}")
    return latencies, wall, sizes.pop()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure_index(quick: bool, versions: int | None = None, requests: int | None = None,
                  clients: int = 4) -> dict:
    """Measure ``index.yaml`` against a static file of its size; the figures as a dict (``index_p99_ms``,
    ``index_rps``, ``static_p99_ms``, ``static_rps``, ``index_rps_ratio``, …). Sets Django up unless done."""
    setup_django()
    from charts import index
    from tests.support import Platform, issue_token

    default_versions, default_requests = SIZES[quick]
    versions, requests = versions or default_versions, requests or default_requests
    _remove_ours()
    started = time.perf_counter()
    _fill(versions)
    fill_s = time.perf_counter() - started
    user = Platform().user(f"bench-{os.getpid()}", superuser=True)
    headers = {"Authorization": f"Bearer {issue_token(user)}"}
    index.invalidate("library")
    started = time.perf_counter()
    body = index.rendered("library")  # the first read renders and caches the index: timed apart
    render_ms = (time.perf_counter() - started) * 1000
    static_file = WORK / "chartrepo-static-index.yaml"
    static_file.write_bytes(body)
    server = make_server("127.0.0.1", 0, _application(static_file), server_class=_Server,
                         handler_class=_QuietHandler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        _load(port, "/chartrepo/library/index.yaml", headers, clients, clients)  # warm: connections, grants
        index_latencies, index_wall, index_size = _load(port, "/chartrepo/library/index.yaml", headers, requests,
                                                        clients)
        static_latencies, static_wall, static_size = _load(port, STATIC_PATH, {}, requests, clients)
    finally:
        server.shutdown()
        server.server_close()
        _remove_ours()
        index.invalidate("library")
    index_rps, static_rps = requests / index_wall, requests / static_wall
    return {
        "versions": versions, "requests": requests, "clients": clients, "index_bytes": index_size,
        "static_bytes": static_size, "fill_s": round(fill_s, 2), "render_ms": round(render_ms, 1),
        "index_p50_ms": round(_percentile(index_latencies, 0.5) * 1000, 2),
        "index_p99_ms": round(_percentile(index_latencies, 0.99) * 1000, 2),
        "static_p50_ms": round(_percentile(static_latencies, 0.5) * 1000, 2),
        "static_p99_ms": round(_percentile(static_latencies, 0.99) * 1000, 2),
        "index_rps": round(index_rps, 1), "static_rps": round(static_rps, 1),
        "index_rps_ratio": round(index_rps / static_rps, 3),
    }


def main() -> int:
    """Run the measurement and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 versions and 200 requests a side")
    parser.add_argument("-n", type=int, default=None, help="chart versions (default 5,000)")
    parser.add_argument("--requests", type=int, default=None, help="requests to each side (default 1,000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    args = parser.parse_args()
    result = measure_index(args.quick, args.n, args.requests, args.clients)
    print(f"Chart repository index.yaml, {result['versions']} versions ({result['index_bytes']:,} bytes), "
          f"{result['requests']} requests a side, {result['clients']} clients, wsgiref on 127.0.0.1, SQLite")
    print(f"rendering the index once (then cached): {result['render_ms']} ms; uploading the versions: "
          f"{result['fill_s']} s")
    print(f"{'served':10} {'p50 ms':>9} {'p99 ms':>9} {'requests/s':>11}")
    for side in ("index", "static"):
        print(f"{side:10} {result[f'{side}_p50_ms']:9.2f} {result[f'{side}_p99_ms']:9.2f} "
              f"{result[f'{side}_rps']:11.1f}")
    print(f"index requests/s / static requests/s: {result['index_rps_ratio']:.3f}")
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
