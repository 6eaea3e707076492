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
"""
from __future__ import annotations

import argparse
import json
import sys
import time
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
    print(f"{count_label(vclusters)}: {vclusters['vclusters_ready']} Ready in {vclusters['vclusters_ready_s']} s, "
          f"{vclusters['vclusters_installs']} Helm releases")
    print(json.dumps(results, sort_keys=True))
    return 0


def count_label(figures: dict) -> str:
    """The heading of the virtual cluster section."""
    return f"{figures['vclusters']} virtual clusters created at once: time to all Ready"


if __name__ == "__main__":
    sys.exit(main())
