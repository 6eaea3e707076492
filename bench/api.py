"""The API served by the production server: requests/s and latency of a bare view, a get, authorized lists of 20 and
of 500 objects as a workspace member, and a write, on PostgreSQL + Redis and on the embedded defaults.

Run from the repository root::

    .venv/bin/python bench/api.py [--quick] [--duration 10] [--connections 64,100] [--workers 4] [--only sqlite]

For each backend it prepares a database of its own (PostgreSQL: drops and re-creates ``edge_bench_api`` on
127.0.0.1:5432, with Redis db 14 on 127.0.0.1:6379 for the cache; embedded: the SQLite file
``var/bench/api.sqlite3`` and the in-process cache), migrates it and builds, through the write path, one cluster,
520 workspaces and 500 namespaces in workspace ``w000``. The user ``member`` is ``workspace-viewer`` in ``w000`` …
``w019``; ``admin`` is a platform admin. Then it starts the platform's production server exactly as
``deploy/Procfile`` does (gunicorn with ``edgeplatform.serving.gunicorn_conf``, ``--workers`` sync workers, real
processes on 127.0.0.1, JSON access log on) and drives it with ``wrk`` (installed with apt-get when missing) for
``--duration`` seconds per figure at each number of open connections:

- **bare**: ``GET /healthz``, a Django view through the whole middleware stack, no authentication, no query;
- **get**: ``GET …/workspaces/w000`` as ``member`` (bearer token);
- **list20**: ``GET …/workspaces`` as ``member``: the 20 of 520 workspaces they may see;
- **list500**: ``GET …/clusters/c1/namespaces`` as ``member``: the 500 namespaces of their workspace ``w000``;
- **list20_admin**: the first 20 workspaces as ``admin`` (``?limit=20``), for comparison;
- **write**: ``PATCH …/workspaces/wNNN`` as ``admin`` (a merge patch setting a label to a new value each time, so
  every request is a real write: validated, saved, audited), over the 500 workspaces member does not see.

The rate limit is set far above what is sent (``EDGE_API_RATE_LIMIT_QPS=1000000``), so its cost is counted and it
never refuses. For each figure: requests/s, P50/P99 latency (wrk's), errors (connection errors, timeouts and
non-2xx answers) and its ratio to the bare view measured right before it (half as long, same backend and
connections: on a machine shared with other work the load drifts between figures, a pair sees the same); the bare
row shows the median of those bare runs. ``wrk``'s own
CPU use is reported (``loadgen_cpu`` per bare run: CPU seconds per second; well under one core means the load
generator is not what limits the figures). The last line is one JSON object: the PostgreSQL + Redis run's figures
at the first connection count (``bare_rps``, ``list20_rps``, ``list20_ratio``, ``list20_p99_ms``, ``list500_rps``,
``write_rps``, ``errors``), then every figure of every run under ``runs``.

``--quick``: the first connection count only, 2 seconds a figure (75 s with both backends). Without PostgreSQL
or Redis on 127.0.0.1 only the embedded run is made (and said).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "var" / "bench"
PY = sys.executable
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/edge_bench_api"
REDIS_URL = "redis://127.0.0.1:6379/14"
WORKSPACES, NAMESPACES, MEMBER_OF = 520, 500, 20
GROUP = "/oapis/scope.theriseunion.io/v1alpha1"
FIGURES = ("bare", "get", "list20", "list500", "list20_admin", "write")

#: wrk's script: every request of a figure, the write's bodies, and one JSON line of results at the end
WRK_LUA = r"""
local counter, thread_id = 0, 0
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  thread_id = id
  path, token, method = args[1], args[2], args[3]
  headers = {}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  if method == "PATCH" then headers["Content-Type"] = "application/merge-patch+json" end
end
function request()
  counter = counter + 1
  if method == "PATCH" then
    local target = string.format("%s/w%03d", path, 20 + (counter * 7 + thread_id) % 500)
    local body = string.format('{"metadata":{"labels":{"bench":"t%d-%d"}}}', thread_id, counter)
    return wrk.format("PATCH", target, headers, body)
  end
  return wrk.format("GET", path, headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p99_us":%d,"mean_us":%f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


# --- preparing a backend (run in a child process, one per backend) -------------------------------------------------
def backend_env(name: str) -> dict:
    """The environment of the server and of the preparing child for backend ``name`` (``postgres`` or ``sqlite``)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "EDGE_KUBECONFIG", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(DJANGO_SETTINGS_MODULE="edgeplatform.settings", CELERY_BROKER_URL="memory://", EDGE_CRD_SYNC="false",
               EDGE_KUBE_IN_CLUSTER="false", EDGE_API_RATE_LIMIT_QPS="1000000", EDGE_API_RATE_LIMIT_BURST="1000000",
               EDGE_VAR_DIR=str(WORK / f"api-{name}"), EDGE_METRICS_DIR="", EDGE_LOG_FORMAT="json")
    if name == "postgres":
        env.update(DATABASE_URL=POSTGRES_URL, REDIS_URL=REDIS_URL, EDGE_CACHE_PREFIX="edge-bench-api")
    else:
        env["DATABASE_URL"] = f"sqlite:///{WORK / 'api.sqlite3'}"
    return env


def reset_backend(name: str) -> None:
    """An empty database (and cache) for ``name``."""
    shutil.rmtree(WORK / f"api-{name}", ignore_errors=True)
    (WORK / f"api-{name}").mkdir(parents=True)
    if name == "postgres":
        import psycopg
        import redis

        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS edge_bench_api WITH (FORCE)")
            conn.execute("CREATE DATABASE edge_bench_api")
        redis.Redis.from_url(REDIS_URL).flushdb()
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{WORK / 'api.sqlite3'}{suffix}").unlink(missing_ok=True)


def prepare() -> None:
    """(child) Migrate and build the fleet; print the tokens as JSON."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from iam.tokens import issue
    from tests.factories import NamespaceFactory
    from tests.support import Platform

    platform = Platform()
    platform.cluster("c1")
    for i in range(WORKSPACES):
        platform.workspace(f"w{i:03d}", "c1")
    for i in range(NAMESPACES):
        NamespaceFactory.apply(name=f"ns{i:03d}", cluster="c1", workspace="w000")
    member = platform.user("member")
    for i in range(MEMBER_OF):
        platform.bind(f"member-w{i:03d}", "workspace-viewer", "workspace", f"w{i:03d}", cluster="c1",
                      users=("member",))
    admin = platform.user("admin", superuser=True)
    print(json.dumps({"member": issue(member, ttl=3600)[0], "admin": issue(admin, ttl=3600)[0]}))


# --- the server and the load ------------------------------------------------------------------------------------
def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port nothing listens on, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """deploy/Procfile's web process (gunicorn with the platform's configuration) on 127.0.0.1."""

    def __init__(self, env: dict, workers: int, log: Path):
        self.port = free_port()
        self.env = {**env, "EDGE_BIND": "127.0.0.1", "EDGE_PORT": str(self.port), "EDGE_WEB_WORKERS": str(workers)}
        self.log = log
        self.process = None

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [PY, "-m", "gunicorn", "-c", "python:edgeplatform.serving.gunicorn_conf", "edgeplatform.wsgi"],
            cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the server did not start: see {self.log}")

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.process.send_signal(signal.SIGTERM)  # graceful: workers finish what they have
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def ensure_wrk() -> str:
    """The path of ``wrk`` (Debian's package, installed with apt-get when missing)."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*sudo, "apt-get", "update", "-q"], check=False, stdout=subprocess.DEVNULL)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk")


def run_wrk(wrk: str, script: Path, url: str, path: str, token: str, method: str, connections: int,
            seconds: float) -> dict:
    """One figure: wrk's results, with its CPU seconds per second of load (``loadgen_cpu``)."""
    command = [wrk, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(script),
               url, "--", path, token, method]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    line = next((row for row in out.splitlines() if row.startswith("WRKJSON ")), None)
    if process.returncode or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {out}")
    raw = json.loads(line.split(" ", 1)[1])
    elapsed = raw["duration_us"] / 1e6
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    return {"rps": round(raw["requests"] / elapsed, 1), "p50_ms": round(raw["p50_us"] / 1000, 2),
            "p99_ms": round(raw["p99_us"] / 1000, 2), "mean_ms": round(raw["mean_us"] / 1000, 2),
            "requests": raw["requests"], "errors": errors, "non_2xx": raw["status"],
            "loadgen_cpu": round((usage.ru_utime + usage.ru_stime) / elapsed, 2)}


def drain(url: str) -> None:
    """Wait until the requests the last figure left queued are served: when wrk stops, the connections it had open
    are still in the server's backlog, and the workers answer them before anything newer (the next figure)."""
    with urllib.request.urlopen(f"{url}/healthz", timeout=120) as answer:
        answer.read()
    time.sleep(0.2)


def check_answers(url: str, tokens: dict) -> None:
    """The figures measure what they say: the lists hold 20 and 500 objects, the write is allowed."""
    def get(path: str, token: str) -> dict:
        request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    assert len(get(f"{GROUP}/workspaces", tokens["member"])["items"]) == MEMBER_OF
    assert len(get(f"{GROUP}/clusters/c1/namespaces", tokens["member"])["items"]) == NAMESPACES
    assert get(f"{GROUP}/workspaces/w000", tokens["member"])["metadata"]["name"] == "w000"


def measure_backend(name: str, wrk: str, script: Path, args) -> dict:
    """Prepare ``name``, start the server, run every figure at every connection count."""
    started = time.monotonic()
    reset_backend(name)
    env = backend_env(name)
    prepared = subprocess.run([PY, __file__, "--prepare"], cwd=ROOT, env=env, capture_output=True, text=True)
    if prepared.returncode:
        raise RuntimeError(prepared.stdout + prepared.stderr)
    tokens = json.loads(prepared.stdout.strip().splitlines()[-1])
    print(f"\n{name}: prepared in {time.monotonic() - started:.1f} s; server: {args.workers} gunicorn sync workers",
          flush=True)
    scenarios = {
        "bare": ("/healthz", "", "GET"),
        "get": (f"{GROUP}/workspaces/w000", tokens["member"], "GET"),
        "list20": (f"{GROUP}/workspaces", tokens["member"], "GET"),
        "list500": (f"{GROUP}/clusters/c1/namespaces", tokens["member"], "GET"),
        "list20_admin": (f"{GROUP}/workspaces?limit=20", tokens["admin"], "GET"),
        "write": (f"{GROUP}/workspaces", tokens["admin"], "PATCH"),
    }
    results = {}
    with Server(env, args.workers, WORK / f"api-{name}" / "server.log") as server:
        check_answers(server.url, tokens)
        for path, token, method in scenarios.values():  # warm every worker's caches and connections
            run_wrk(wrk, script, server.url, path, token, method, 8, 1)
        for connections in args.connections:
            row = results[str(connections)] = {}
            bare_runs = []
            for figure, (path, token, method) in scenarios.items():
                if figure == "bare":
                    continue
                # each figure right after a bare run of its own: on a machine shared with other work the load
                # changes from one figure to the next, the pair sees the same
                drain(server.url)
                bare_runs.append(run_wrk(wrk, script, server.url, *scenarios["bare"], connections, args.duration / 2))
                drain(server.url)
                row[figure] = run_wrk(wrk, script, server.url, path, token, method, connections, args.duration)
                row[figure]["ratio"] = round(row[figure]["rps"] / (bare_runs[-1]["rps"] or 1), 3)
                row[figure]["bare_rps"] = bare_runs[-1]["rps"]
            row["bare"] = sorted(bare_runs, key=lambda run: run["rps"])[len(bare_runs) // 2]
            row["bare"]["ratio"] = 1.0
            print_table(name, connections, row)
    return results


def print_table(name: str, connections: int, row: dict) -> None:
    """One backend and connection count as a table (bare: the median of the bare runs)."""
    print(f"{name}, {connections} connections")
    print(f"{'figure':<14}{'req/s':>10}{'P50 ms':>9}{'P99 ms':>9}{'errors':>8}{'bare req/s':>12}{'x bare':>8}"
          f"{'wrk CPU':>9}")
    for figure in FIGURES:
        r = row[figure]
        print(f"{figure:<14}{r['rps']:>10.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['errors']:>8}"
              f"{r.get('bare_rps', r['rps']):>12.0f}{r['ratio']:>8.2f}{r['loadgen_cpu']:>9.2f}", flush=True)


def main() -> int:
    """Both backends (or ``--only`` one), the tables and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 connections only, 2 seconds a figure")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds a figure")
    parser.add_argument("--connections", default="64,100", help="open connections, comma-separated")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--only", choices=("postgres", "sqlite"), help="one backend")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare()
        return 0
    args.connections = [int(c) for c in args.connections.split(",")]
    if args.quick:
        args.duration, args.connections = 2.0, args.connections[:1]
    WORK.mkdir(parents=True, exist_ok=True)
    wrk = ensure_wrk()
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f} at the start; wrk 2 threads; {args.duration:g} s a figure")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(WRK_LUA)
    script = Path(handle.name)
    runs = {}
    backends = [name for name in ("postgres", "sqlite") if args.only in (None, name)]
    if "postgres" in backends and not (_reachable(5432) and _reachable(6379)):
        print("PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379) does not answer: embedded defaults only")
        backends.remove("postgres")
    try:
        for name in backends:
            runs[name] = measure_backend(name, wrk, script, args)
    finally:
        script.unlink(missing_ok=True)
    main_run = runs.get("postgres") or runs[next(iter(runs))]
    first = main_run[str(args.connections[0])]
    summary = {
        "backend": "postgres+redis" if "postgres" in runs else "sqlite", "connections": args.connections[0],
        "workers": args.workers, "duration_s": args.duration, "load_average_start": round(load, 1),
        "bare_rps": first["bare"]["rps"], "get_rps": first["get"]["rps"], "list20_rps": first["list20"]["rps"],
        "list20_ratio": first["list20"]["ratio"], "list20_p99_ms": first["list20"]["p99_ms"],
        "list500_rps": first["list500"]["rps"], "write_rps": first["write"]["rps"],
        "errors": sum(fig["errors"] for run in runs.values() for row in run.values() for fig in row.values()),
        "loadgen_cpu_bare": first["bare"]["loadgen_cpu"], "runs": runs,
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
