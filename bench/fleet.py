"""Fleet: nodes and namespaces synced from member clusters (``clusters.member_sync``), first sync and a cycle
with nothing changed.

Run from the repository root::

    .venv/bin/python bench/fleet.py [--quick] [--clusters 50] [--nodes 1000] [--per-emulator 5]

Uses its own SQLite file (``var/bench/fleet.sqlite3``) and emulated API servers on 127.0.0.1 (``tests/kube``),
reached over HTTP by the gateway's client. ``--per-emulator`` clusters share one emulator (each cluster is its own
row and gets its own copy of the emulator's nodes on the platform), so C × N nodes are synced with C / per-emulator
servers. Every tenth node is labelled into group ``g-label``, every tenth other one matches group ``g-sel``'s
selector; each emulator also has 20 namespaces, half labelled into workspace ``<cluster>-ws``. Group and
workspace names are unique on the platform, so with ``--per-emulator`` above 1 the labels name the emulator's
first cluster's and the other clusters keep those nodes under the cluster (the cost is the same).

* **first sync**: one reconcile of the per-cluster sync (``cluster-members``) for every cluster, through the
  controller base: every node and namespace created through the write path (audited), its status written.
* **no-change cycle**: the same again with nothing changed on the members: the requests the emulators received
  (one LIST page per 500 objects per kind), the node/namespace rows written (``noop_writes``, from the sync's own
  counts, and the audit events added, target 0) and the time.

* **virtual clusters** (``vclusters_ready``): 20 virtual clusters created at once, time to all Ready (one worker
  loop; see :func:`vclusters_ready`).

``--quick``: 4 clusters × 250 nodes. The last line is one JSON object with the figures.

Health (``clusters.controller``, ``--health-clusters 2000``, ``--offline-percent 10``): one health cycle of
2,000 emulated clusters, every tenth of which does not answer (its endpoint is a socket that accepts the
connection and never answers, as an edge site behind a dead link or a hung API server does). Every cluster is
checked once through the real controller (``engine.reconcile``: lease, step, status write through the write
path) by ``--slots`` worker slots (16: a thread pool with a worker's concurrency, taking the checks from one queue
in name order, the offline ones interleaved, as a worker takes what beat queued). The health timeout is
``--health-timeout`` (1 s here, 5 s by default in production: ``EDGE_CLUSTER_HEALTH_TIMEOUT``). Answering
clusters share emulated API servers (``--health-per-emulator`` 50; each is its own Cluster row with its own
client). Figures:

* ``health_cycle_s``: wall time from the first check taken to the last one done;
* ``offline_worker_s``: worker-seconds (slot time) the offline clusters' checks took, to compare with
  ``offline × timeout`` (``offline_worker_s_bound``): each should cost one timeout of one slot, no retry;
* ``answering_waited_on_offline`` (target 0): answering clusters whose check waited on an offline one, either
  (a) *during* it: its connection check (``clusters.health.check_connection``, the controller's own call, timed
  around it: the client from the gateway's cache and the requests to its own API server) lasted half the health
  timeout or more, or failed; an answering server answers in milliseconds, so such a check was held by something
  an offline cluster's check held (a client-cache lock, a pooled connection, the client itself); or (b) *before*
  it: it began while every slot was held by an offline check, or within 10 ms after such a stretch ended (it got
  its slot only because an offline check gave one back). Waiting in the queue behind answering clusters is not
  waiting on an offline one;
* ``slots_all_offline_s``: the wall time during which every slot was busy with an offline check (at most
  ``offline × timeout / slots``); ``answering_connection_check_max_ms``: the slowest connection check of an
  answering cluster;
* ``answering_check_p50_ms`` / ``answering_check_max_ms``: a whole reconcile of an answering cluster (lease,
  check, status write through the write path). SQLite serialises the slots' writes and its busy handler sleeps,
  so these vary with the number of slots and the machine's load, offline clusters or not; so does
  ``offline_check_max_s`` (the timeout, then the status write);
* ``health_ready`` (answering clusters Ready after the cycle) and ``health_unreachable`` (offline clusters
  Unreachable).
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from controllers import timed  # noqa: E402  (bench/controllers.py: the shared helpers)
from rbac import configure as _configure  # noqa: E402

SQLITE_NAME = "fleet.sqlite3"
NAMESPACES = 20


def configure() -> None:
    """The bench's own SQLite file and an in-memory broker (nothing queued is run)."""
    import rbac

    rbac.SQLITE_FILE = ROOT / "var" / "bench" / SQLITE_NAME
    _configure()


def seed(clusters: int, nodes: int, per_emulator: int):
    """Emulators with ``nodes`` nodes and the namespaces each, and ``clusters`` Cluster rows reaching them, each
    with the two node groups and the workspace."""
    from edgeplatform import kube as gateway
    from tests.kube.emulator import Emulator
    from tests.support import Platform

    platform = Platform()
    emulators = [Emulator().start() for _ in range((clusters + per_emulator - 1) // per_emulator)]
    for number, emulator in enumerate(emulators):
        # group and workspace names are unique on the platform: an emulator's labels name its first cluster's
        owner = client_owner(number, per_emulator)
        for index in range(nodes):
            labels = {}
            if index % 10 == 0:
                labels["theriseunion.io/nodegroup"] = f"{owner}-g-label"
            elif index % 10 == 5:
                labels["site"] = "north"
            if index % 3 == 0:
                labels["node-role.kubernetes.io/edge"] = ""
            emulator.add_node(f"node-{index:05d}", labels=labels)
    fleet = []
    for index in range(clusters):
        name = f"c{index:03d}"
        emulator = emulators[index // per_emulator]
        cluster = platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                                  "metadata": {"name": name}, "spec": {"type": "physical", "connection": {
                                      "kubernetesAPIEndpoint": emulator.url}}})[0]
        platform.nodegroup(f"{name}-g-label", name)
        platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "NodeGroup",
                        "metadata": {"name": f"{name}-g-sel", "labels": {"scope.theriseunion.io/cluster": name}},
                        "spec": {"selector": {"matchLabels": {"site": "north"}}}})
        platform.workspace(f"{name}-ws", name)
        fleet.append((cluster, emulator))
    for index in range(len(emulators)):
        client = gateway.member_client(fleet[index * per_emulator][0])
        for number in range(NAMESPACES):
            labels = {"theriseunion.io/workspace": f"{client_owner(index, per_emulator)}-ws"} if number % 2 else {}
            gateway.apply(client, {"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": f"ns-{number:02d}", "labels": labels}})
    return platform, fleet, emulators


def client_owner(emulator_index: int, per_emulator: int) -> str:
    """The cluster whose groups and workspace an emulator's labels name (its first)."""
    return f"c{emulator_index * per_emulator:03d}"


def cycle(fleet, emulators) -> dict:
    """One sync of every cluster: time, requests, what was written."""
    from clusters.member_sync import MEMBER_SYNC
    from edgeplatform.controllers.engine import reconcile
    from iam.audit.models import AuditEvent

    for emulator in emulators:
        emulator.requests.clear()
    audited = AuditEvent.objects.count()
    written = 0
    started = time.perf_counter()
    for cluster, _ in fleet:
        outcome = reconcile(MEMBER_SYNC, cluster.pk)
        assert outcome.result == "success", outcome
        value = outcome.value or {}
        written += sum(value.get(key, 0) for key in ("created", "updated", "statusUpdated", "deleted"))
    seconds = time.perf_counter() - started
    return {"s": round(seconds, 3), "requests": sum(len(e.requests) for e in emulators), "writes": written,
            "audit_events": AuditEvent.objects.count() - audited}


class Silent:
    """An endpoint that accepts connections and never answers (a hung API server, a dead link behind a NAT)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.held: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)  # never read, never answered

    def stop(self) -> None:
        self.closed = True
        for conn in self.held:
            conn.close()
        self.sock.close()


def health_seed(platform, count: int, offline_percent: float, per_emulator: int):
    """``count`` Cluster rows ``h0000``…: every ``100 / offline_percent``-th one reaches a silent endpoint."""
    from clusters.models import Cluster
    from tests.kube.emulator import Emulator

    every = max(1, round(100 / offline_percent)) if offline_percent else 0
    offline_names = {f"h{index:04d}" for index in range(count) if every and index % every == every - 1}
    answering = count - len(offline_names)
    emulators = [Emulator().start() for _ in range(max(1, (answering + per_emulator - 1) // per_emulator))]
    for emulator in emulators:
        for index in range(3):
            emulator.add_node(f"node-{index}")
    silent = [Silent() for _ in range(max(1, len(offline_names) // 50))]
    answered = 0
    for index in range(count):
        name = f"h{index:04d}"
        if name in offline_names:
            endpoint = silent[index % len(silent)].url
        else:
            endpoint = emulators[answered // per_emulator].url
            answered += 1
        platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                        "metadata": {"name": name},
                        "spec": {"type": "physical", "connection": {"kubernetesAPIEndpoint": endpoint}}})
    rows = list(Cluster.objects.filter(name__startswith="h").order_by("name").values_list("pk", "name"))
    return rows, offline_names, emulators, silent


def health_cycle(rows, offline_names: set, slots: int, timeout: float) -> dict:
    """One check of every cluster by ``slots`` worker slots; the figures of the module docstring."""
    from django.db import connection
    from django.test import override_settings

    from clusters import controller as controller_module
    from clusters.controller import CONTROLLER
    from clusters.models import Cluster
    from edgeplatform.controllers.engine import reconcile

    spans: dict[str, tuple[float, float, str]] = {}
    connecting: dict[str, tuple[float, bool]] = {}
    real_check = controller_module.check_connection

    def timed_check(cluster, *args, **kwargs):  # the real check, timed
        began = time.monotonic()
        found = real_check(cluster, *args, **kwargs)
        connecting[cluster.name] = (time.monotonic() - began, found.ok)
        return found

    controller_module.check_connection = timed_check

    def check(pk, name):
        began = time.monotonic()
        try:
            result = reconcile(CONTROLLER, pk).result
        finally:
            connection.close()
        spans[name] = (began, time.monotonic(), result)

    with override_settings(EDGE_CLUSTER_HEALTH_TIMEOUT=timeout):
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="worker-slot") as pool:
            for future in [pool.submit(check, pk, name) for pk, name in rows]:
                future.result()
        wall = time.monotonic() - started
    controller_module.check_connection = real_check
    waited = sum(1 for name, (seconds, ok) in connecting.items()
                 if name not in offline_names and (seconds >= timeout / 2 or not ok))
    connect_times = sorted(seconds for name, (seconds, _) in connecting.items() if name not in offline_names)
    offline = [spans[name] for name in offline_names]
    answering = [span for name, span in spans.items() if name not in offline_names]
    durations = sorted(end - began for began, end, _ in answering)
    events = sorted([(began, 1) for began, _, _ in offline] + [(end, -1) for _, end, _ in offline])
    busy, stretches, since = 0, [], None
    for moment, step in events:
        busy += step
        if busy >= slots and since is None:
            since = moment
        elif busy < slots and since is not None:
            stretches.append((since, moment))
            since = None
    all_offline = sum(end - began for began, end in stretches)
    waited += sum(1 for name, (began, _, _) in spans.items() if name not in offline_names
                  and connecting.get(name, (0.0, True))[0] < timeout / 2 and connecting.get(name, (0, True))[1]
                  and any(first <= began <= last + 0.01 for first, last in stretches))
    states = dict(Cluster.objects.filter(name__startswith="h").values_list("name", "phase"))
    return {
        "health_cycle_s": round(wall, 2),
        "offline_worker_s": round(sum(end - began for began, end, _ in offline), 2),
        "offline_worker_s_bound": round(len(offline) * timeout, 2),
        "offline_check_max_s": round(max((end - began for began, end, _ in offline), default=0.0), 3),
        "answering_waited_on_offline": waited,
        "answering_connection_check_max_ms": round(max(connect_times, default=0.0) * 1000, 1),
        "answering_check_p50_ms": round(statistics.median(durations) * 1000, 1) if durations else 0.0,
        "answering_check_max_ms": round(max(durations, default=0.0) * 1000, 1),
        "slots_all_offline_s": round(all_offline, 2),
        "health_ready": sum(1 for name, phase in states.items() if name not in offline_names and phase == "Ready"),
        "health_unreachable": sum(1 for name in offline_names if states.get(name) == "Unreachable"),
        "health_slots": slots, "health_timeout_s": timeout,
    }


def health(args, quick: bool) -> dict:
    """Seed the health fleet, run one cycle, stop the servers."""
    from edgeplatform.kube import connections
    from tests.support import Platform

    count = 200 if quick else args.health_clusters
    seeded = time.perf_counter()
    rows, offline_names, emulators, silent = health_seed(Platform(), count, args.offline_percent,
                                                         args.health_per_emulator)
    seed_s = time.perf_counter() - seeded
    try:
        figures = health_cycle(rows, offline_names, args.slots, args.health_timeout)
    finally:
        connections.forget_clients()
        for server in (*emulators, *silent):
            server.stop()
    return {"clusters": count, "offline": len(offline_names), "health_seed_s": round(seed_s, 2), **figures}


def vclusters_ready(count: int = 20) -> dict:
    """20 virtual clusters created at once: time to all Ready.

    A host emulator (its kubelet makes the StatefulSets ready) registered as the host cluster, a second emulator
    as the virtual clusters' API server (the exported kubeconfig's server), the stand-in vcluster chart in
    ``library``; ``count`` virtual Clusters written at once through the write path, then one worker loop runs the
    component and cluster controllers (what the Celery workers do) until every cluster is Ready or nothing moves.
    Figures: ``vclusters_ready`` (target ``count``), ``vclusters_ready_s``, ``vclusters_installs`` (Helm release
    revisions made: target ``count``, none twice)."""
    import tempfile

    from django.conf import settings
    from django.test import override_settings

    from charts import store
    from clusters.controller import CONTROLLER as CLUSTERS
    from clusters.models import Cluster
    from components.controller import CONTROLLER as COMPONENTS
    from components.models import Component
    from edgeplatform import kube as gateway
    from edgeplatform.controllers.engine import reconcile
    from edgeplatform.kube import crds
    from tests.factories import ClusterFactory
    from tests.helm_repo import package
    from tests.kube.emulator import Emulator
    from tests.paths import FIXTURES
    from tests.support import Platform

    work = Path(tempfile.mkdtemp(prefix="bench-vcluster-"))
    host, virtual = Emulator().start(), Emulator().start()
    host.kubelet_on()
    kubeconfig = host.write_kubeconfig(work / "host.kubeconfig")
    storages = {**settings.STORAGES, "charts": {**settings.STORAGES["charts"],
                                                "OPTIONS": {"location": str(work / "charts")}}}
    versions = {"k8s": "0.36.1", "k3s": "0.32.3", "k0s": "0.25.2"}
    try:
        with override_settings(EDGE_KUBECONFIG=str(kubeconfig), EDGE_HELM_HOME=str(work / "helm"), STORAGES=storages,
                               EDGE_VCLUSTER_SERVER=virtual.url, EDGE_VCLUSTER_CHART_VERSIONS=versions,
                               EDGE_KUBE_RETRIES=0, EDGE_CONCURRENCY_COMPONENT=count):
            gateway.forget_clients()
            crds.install(gateway.host_client())
            for version in sorted(set(versions.values())):
                store.put("library", package(FIXTURES / "charts" / "vcluster", version)[1])
            ClusterFactory(name="bench-host", labels={"cluster.theriseunion.io/role": "host"})
            names = [f"bench-vc-{index:02d}" for index in range(count)]
            started = time.perf_counter()
            Platform().apply(*({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                                "metadata": {"name": name}, "spec": {"type": "virtual"}} for name in names))
            rows = list(Cluster.objects.filter(name__in=names))
            for _ in range(10):  # rounds of the worker loop: clusters, their components, clusters again
                for row in rows:
                    reconcile(CLUSTERS, row.pk)
                for component in Component.objects.filter(name__startswith="vcluster-bench-vc-"):
                    reconcile(COMPONENTS, component.pk)
                if Cluster.objects.filter(name__in=names, ready=True).count() == count:
                    break
            for row in rows:
                reconcile(CLUSTERS, row.pk)
            elapsed = time.perf_counter() - started
            ready = Cluster.objects.filter(name__in=names, ready=True).count()
            installs = sum(1 for secret in host.objects("secrets")
                           if (secret["metadata"].get("labels") or {}).get("owner") == "helm")
    finally:
        host.stop()
        virtual.stop()
        gateway.forget_clients()
    return {"vclusters": count, "vclusters_ready": ready, "vclusters_ready_s": round(elapsed, 2),
            "vclusters_installs": installs}


def main() -> int:
    """Run the phases and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 clusters x 250 nodes")
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=1000, help="nodes per cluster")
    parser.add_argument("--per-emulator", type=int, default=1, help="clusters served by one emulated API server")
    parser.add_argument("--health-clusters", type=int, default=2000, help="clusters of the health cycle")
    parser.add_argument("--offline-percent", type=float, default=10, help="of them, the share that never answers")
    parser.add_argument("--slots", type=int, default=16, help="worker slots (a worker's concurrency)")
    parser.add_argument("--health-timeout", type=float, default=1.0, help="EDGE_CLUSTER_HEALTH_TIMEOUT (s)")
    parser.add_argument("--health-per-emulator", type=int, default=50,
                        help="answering clusters served by one emulated API server")
    args = parser.parse_args()
    clusters, nodes = (4, 250) if args.quick else (args.clusters, args.nodes)
    per_emulator = min(args.per_emulator, clusters)
    configure()

    import logging

    import django

    django.setup()
    logging.getLogger("clusters.member_sync").setLevel(logging.ERROR)  # the shared emulators' foreign labels
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results = {"clusters": clusters, "nodes_per_cluster": nodes, "nodes": clusters * nodes,
               "namespaces": clusters * (NAMESPACES + 4), "clusters_per_emulator": per_emulator,
               "database": "sqlite"}
    seed_seconds = timed(lambda: results.update(_seeded=seed(clusters, nodes, per_emulator)))
    _, fleet, emulators = results.pop("_seeded")
    results["seed_s"] = round(seed_seconds, 2)
    first = cycle(fleet, emulators)
    noop = cycle(fleet, emulators)
    for emulator in emulators:
        emulator.stop()
    vclusters = vclusters_ready(20)
    results.update(vclusters)
    results.update({"node_sync_first_s": first["s"], "node_sync_first_requests": first["requests"],
                    "node_sync_first_writes": first["writes"],
                    "node_sync_first_per_node_ms": round(first["s"] / results["nodes"] * 1000, 3),
                    "node_sync_noop_s": noop["s"], "node_sync_noop_requests": noop["requests"],
                    "node_sync_noop_writes": noop["writes"], "node_sync_noop_audit_events": noop["audit_events"],
                    "node_sync_noop_per_cluster_ms": round(noop["s"] / clusters * 1000, 3)})

    print(f"Fleet node sync: {clusters} clusters x {nodes} nodes ({per_emulator} clusters per emulated API "
          f"server, SQLite)")
    print(f"{'measure':34} {'first sync':>12} {'no change':>12}")
    for label, first_key, noop_key in (
            ("seconds", "node_sync_first_s", "node_sync_noop_s"),
            ("requests to the members", "node_sync_first_requests", "node_sync_noop_requests"),
            ("rows written", "node_sync_first_writes", "node_sync_noop_writes")):
        print(f"{label:34} {results[first_key]!s:>12} {results[noop_key]!s:>12}")
    print(f"{'audit events (no change)':34} {'':>12} {results['node_sync_noop_audit_events']!s:>12}")
    logging.getLogger("edgeplatform.controllers").setLevel(logging.ERROR)  # the offline clusters' retries
    node_sync_clusters = results.pop("clusters")
    results["node_sync_clusters"] = node_sync_clusters
    results.update(health(args, args.quick))
    print(f"Fleet health: {results['clusters']} clusters, {results['offline']} not answering, "
          f"{results['health_slots']} worker slots, health timeout {results['health_timeout_s']:g} s")
    for key in ("health_cycle_s", "offline_worker_s", "offline_worker_s_bound", "offline_check_max_s",
                "answering_waited_on_offline", "answering_connection_check_max_ms",
                "answering_check_p50_ms", "answering_check_max_ms",
                "slots_all_offline_s", "health_ready", "health_unreachable"):
        print(f"{key:34} {results[key]!s:>12}")
    print(f"{count_label(vclusters)}: {vclusters['vclusters_ready']} Ready in {vclusters['vclusters_ready_s']} s, "
          f"{vclusters['vclusters_installs']} Helm releases")
    print(json.dumps(results, sort_keys=True))
    return 0


def count_label(figures: dict) -> str:
    """The heading of the virtual cluster section."""
    return f"{figures['vclusters']} virtual clusters created at once: time to all Ready"


if __name__ == "__main__":
    sys.exit(main())
